// Options objects, checked the same way everywhere: an unknown key is an OptionError naming the key and,
// when one is near, the right spelling (`weight_decay` -> "did you mean weightDecay?"), instead of being
// silently ignored. And the one progress shape every long call reports.
import { OptionError } from '../errors';

/** What every long call (fit, Fisher passes, merges, loads) reports: `done` of `total` in `phase`. */
export interface Progress {
  done: number;
  total: number;
  /** What is being done now, e.g. 'train', 'eval', 'fisher', 'merge'. */
  phase: string;
}

function snakeToCamel(k: string): string {
  return k.replace(/[_-]+([a-z0-9])/gi, (_, c: string) => c.toUpperCase());
}

function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!; prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j]!;
      prev[j] = Math.min(up + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length]!;
}

/** The allowed key a mistyped one most likely meant: its camelCase form, a case slip, or a near spelling. */
export function suggestKey(key: string, allowed: readonly string[]): string | undefined {
  const camel = snakeToCamel(key);
  if (allowed.includes(camel)) return camel;
  const lower = key.toLowerCase().replace(/[_-]/g, '');
  const sameLetters = allowed.find((a) => a.toLowerCase() === lower);
  if (sameLetters) return sameLetters;
  let best: string | undefined; let bestD = Infinity;
  for (const a of allowed) {
    const d = editDistance(camel.toLowerCase(), a.toLowerCase());
    if (d < bestD) { best = a; bestD = d; }
  }
  return best !== undefined && bestD <= Math.max(1, Math.floor(best.length / 4)) ? best : undefined;
}

/**
 * Throws an OptionError for the first key of `options` that is not in `allowed`, naming `who`, the key,
 * and the right spelling when one is near. Undefined and null options pass.
 */
export function checkOptions(who: string, options: object | undefined | null, allowed: readonly string[]): void {
  if (options === undefined || options === null) return;
  if (typeof options !== 'object' || Array.isArray(options)) {
    throw new OptionError(`${who}: options must be an object, got ${Array.isArray(options) ? 'an array' : typeof options}`);
  }
  for (const key of Object.keys(options)) {
    if (allowed.includes(key)) continue;
    const hint = suggestKey(key, allowed);
    throw new OptionError(`${who}: unknown option '${key}'${hint ? `; did you mean ${hint}?` : ''} ` +
      `(options: ${allowed.join(', ')})`);
  }
}
