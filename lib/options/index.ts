// Options objects, checked the same way everywhere: an unknown key is an OptionError naming the key and,
// when one is near, the right spelling (`weight_decay` -> "did you mean weightDecay?"), instead of being
// silently ignored. And the one progress shape every long call reports.
//
// Each function's allowed keys are written once, next to its options interface, with optionKeys: the
// compiler checks that list against the interface (a key missing from it, or one the interface lacks, is a
// type error), so the run-time check and the type cannot drift apart.
import { OptionError } from '../errors';

/**
 * What every long call (fit, Fisher passes, merges, loads, prior searches) reports, each time a unit of
 * work is done: `done` of `total` in `phase`. Calls may add fields (the tensor's name, the epoch).
 */
export interface Progress {
  done: number;
  /** null when the amount of work is not known in advance (a stream of batches). */
  total: number | null;
  /** What is being done now, e.g. 'train', 'fisher', 'merge', 'load', 'prior'. */
  phase: string;
}

/** One `true` per key of T, every key required: the argument type of optionKeys. */
export type KeyList<T> = { readonly [K in keyof T]-?: true };

const lists = new Map<string, readonly string[]>();

/**
 * The allowed keys of an options interface T, as `optionKeys<FooOptions>('foo', { a: true, b: true })`.
 * The object literal must name every key of T and nothing else (the compiler checks both), so the list
 * stays in step with the interface. `name` registers the list (see optionLists) for the test that walks
 * every entry point with a mistyped key.
 */
export function optionKeys<T>(name: string, keys: KeyList<T>): readonly string[] {
  const list = Object.freeze(Object.keys(keys));
  // The same module evaluated again (a cleared require cache) registers the same list: fine. Another list
  // under a taken name is a mistake in this library.
  const had = lists.get(name);
  if (had && had.join() !== list.join()) throw new Error(`optionKeys: '${name}' is registered twice, with different keys`);
  lists.set(name, list);
  return list;
}

/** Every list registered by optionKeys, by name (the modules that define them must have been loaded). */
export function optionLists(): ReadonlyMap<string, readonly string[]> {
  return lists;
}

/** The entries of `o` whose keys are in `keys`: what an entry point passes on to another that checks its own. */
export function pickOptions<T extends object>(o: T | undefined, keys: readonly string[]): Partial<T> {
  const out: Record<string, unknown> = {};
  if (o) for (const k of keys) if (k in o) out[k] = (o as Record<string, unknown>)[k];
  return out as Partial<T>;
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

export { untilAborted } from './abort';
