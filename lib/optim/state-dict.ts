// Reading and checking PyTorch optimizer state_dicts: { 'state': {id: {key: tensor}}, 'param_groups':
// [{hyperparameters..., 'params': [ids]}] }. Accepts what lib/io's load() returns (Maps, Tuples,
// numbers) and plain objects; a training checkpoint's 'optimizer' entry is found.
import { Tensor } from '../tensor/tensor';
import { full } from '../tensor/create';
import { OptimizerStateError } from '../errors';

/** The layout of torch.optim.Optimizer.state_dict(). */
export interface PyTorchOptimizerStateDict {
  state: Map<number, Map<string, Tensor>>;
  param_groups: Map<string, unknown>[];
}

export type StateEntry = Map<string, unknown>;
export interface ParsedGroup { map: Map<string, unknown>; ids: number[]; }

export function describeShape(s: readonly number[]): string { return `[${s.join(', ')}]`; }

function asMap(v: unknown): Map<string, unknown> | null {
  if (v instanceof Map) return v as Map<string, unknown>;
  if (v && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Tensor)) return new Map(Object.entries(v));
  return null;
}

function toInt(v: unknown): number | null {
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  if (typeof v === 'string' && /^\d+$/.test(v)) return Number(v);  // plain-object (JSON-like) keys
  return null;
}

const WRAPPERS = ['optimizer', 'optimizer_state_dict', 'optim', 'opt', 'optimizer_state'];

/** Finds and checks the state/param_groups structure; ids become numbers. */
export function parseStateDict(sd: unknown, who: string): { state: Map<number, StateEntry>; groups: ParsedGroup[] } {
  let root = asMap(sd);
  if (!root) throw new OptimizerStateError(`${who}.loadStateDict: expected an optimizer state_dict (a dict with 'state' and 'param_groups'), got ${sd === null ? 'null' : typeof sd}`);
  if (!root.has('param_groups')) {
    const inner = WRAPPERS.map((k) => asMap(root!.get(k))).find((m) => m && m.has('param_groups'));
    if (!inner) throw new OptimizerStateError(`${who}.loadStateDict: no 'param_groups' entry (keys: ${[...root.keys()].slice(0, 10).join(', ')}): not an optimizer state_dict`);
    root = inner;
  }
  const groupsRaw = root.get('param_groups');
  if (!Array.isArray(groupsRaw)) throw new OptimizerStateError(`${who}.loadStateDict: 'param_groups' is not a list`);
  const groups: ParsedGroup[] = groupsRaw.map((g, i) => {
    const map = asMap(g);
    if (!map) throw new OptimizerStateError(`${who}.loadStateDict: param_groups[${i}] is not a dict`);
    const ids = map.get('params');
    if (!Array.isArray(ids)) throw new OptimizerStateError(`${who}.loadStateDict: param_groups[${i}] has no 'params' list`);
    return {
      map, ids: ids.map((x, k) => {
        const n = toInt(x);
        if (n === null) throw new OptimizerStateError(`${who}.loadStateDict: param_groups[${i}].params[${k}] is not an integer id (${String(x)})`);
        return n;
      }),
    };
  });
  const stateRaw = asMap(root.get('state') ?? new Map());
  if (!stateRaw) throw new OptimizerStateError(`${who}.loadStateDict: 'state' is not a dict`);
  const state = new Map<number, StateEntry>();
  for (const [k, v] of stateRaw) {
    const id = toInt(k);
    if (id === null) throw new OptimizerStateError(`${who}.loadStateDict: state key ${String(k)} is not an integer parameter id`);
    const e = asMap(v);
    if (!e) throw new OptimizerStateError(`${who}.loadStateDict: state[${id}] is not a dict`);
    state.set(id, e);
  }
  return { state, groups };
}

/** A number hyperparameter of a group (PyTorch may store lr as a 0-dim tensor). */
export function groupNumber(g: Map<string, unknown>, key: string, i: number, who: string, dflt?: number): number {
  let v = g.has(key) ? g.get(key) : dflt;
  if (v instanceof Tensor) v = v.numel === 1 ? v.item() : v;
  if (typeof v === 'bigint') v = Number(v);
  if (typeof v === 'object' && v !== null && typeof (v as { valueOf(): unknown }).valueOf() === 'number') v = (v as { valueOf(): number }).valueOf();
  if (typeof v !== 'number' || Number.isNaN(v)) throw new OptimizerStateError(`${who}.loadStateDict: param_groups[${i}].${key} is missing or not a number`);
  return v;
}

export function groupBool(g: Map<string, unknown>, key: string, dflt: boolean): boolean {
  const v = g.get(key);
  return v === undefined || v === null ? dflt : !!v;
}

/** A state tensor copied onto the parameter's device and dtype, with its shape checked. */
export function stateTensor(e: StateEntry, key: string, param: Tensor, where: string, who: string): Tensor {
  const v = e.get(key);
  if (!(v instanceof Tensor)) throw new OptimizerStateError(`${who}.loadStateDict: ${where} has no '${key}' tensor in its state (keys: ${[...e.keys()].join(', ')})`);
  if (v.shape.join() !== param.shape.join()) {
    throw new OptimizerStateError(`${who}.loadStateDict: ${where}: '${key}' has shape ${describeShape(v.shape)} in the state dict`);
  }
  return v.to({ dtype: param.dtype, device: param.device });
}

/** PyTorch's step: a float32 0-dim tensor on the CPU (a plain number in old state dicts). */
export function stepTensor(e: StateEntry, where: string, who: string): Tensor {
  const v = e.get('step');
  if (v instanceof Tensor) {
    if (v.numel !== 1) throw new OptimizerStateError(`${who}.loadStateDict: ${where}: 'step' has shape ${describeShape(v.shape)}, expected a scalar`);
    const c = v.to({ dtype: 'float32', device: 'cpu' });
    if (c.ndim === 0) return c;
    const r = c.reshape([]);
    c.dispose();  // r views the same memory
    return r;
  }
  if (typeof v === 'number' && v >= 0) return full([], v, { dtype: 'float32' });
  throw new OptimizerStateError(`${who}.loadStateDict: ${where} has no 'step' in its state (keys: ${[...e.keys()].join(', ')})`);
}
