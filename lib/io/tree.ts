// Walking a loaded checkpoint tree: dotted names for every leaf ('model.fc.weight',
// 'optimizer.state.0.exp_avg', 'layers.1' for list items), without recursion (trees from files can be deep).
import { OrderedDict } from './values';

function isContainer(v: unknown): v is Map<unknown, unknown> | unknown[] | Set<unknown> | Record<string, unknown> {
  if (v === null || typeof v !== 'object') return false;
  if (v instanceof Map || Array.isArray(v) || v instanceof Set) return true;
  const p = Object.getPrototypeOf(v);
  return p === Object.prototype || p === null;
}

/** Calls `leaf(name, value)` for each non-container value, depth first in key order. Cycles are skipped. */
export function flattenTree(root: unknown, leaf: (name: string, v: unknown, key: unknown) => void): void {
  const seen = new Set<object>();
  const stack: [string, unknown, unknown][] = [['', root, undefined]];
  while (stack.length) {
    const [name, v, key] = stack.pop()!;
    if (!isContainer(v)) { leaf(name, v, key); continue; }
    if (seen.has(v)) continue;
    seen.add(v);
    const kids: [unknown, unknown][] = v instanceof Map ? [...v] : Array.isArray(v) ? v.map((x, i) => [i, x])
      : v instanceof Set ? [...v].map((x, i) => [i, x]) : Object.entries(v);
    const join = (k: unknown): string => (name ? `${name}.${String(k)}` : String(k));
    for (let i = kids.length - 1; i >= 0; i--) stack.push([join(kids[i][0]), kids[i][1], kids[i][0]]);
    if (kids.length === 0 && name) leaf(name, v, key); // keep empty containers visible
  }
  void OrderedDict;
}
