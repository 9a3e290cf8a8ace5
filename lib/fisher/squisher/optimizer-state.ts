// Finding a PyTorch optimizer state_dict inside what torch.load gives: the state_dict itself, a training
// checkpoint that holds one under a usual key (timm's 'optimizer', Lightning's 'optimizer_states' list),
// and, when that checkpoint also holds the model's weights ('state_dict' / 'model'), those weights as an
// ordered parameter source (a torch.save dict keeps the model's order).
import { OptimizerStateError, OptionError } from '../../errors';
import { Tensor } from '../../tensor/tensor';
import { fromStateDict, ParamList } from './params';

export type Entry = Map<string, unknown>;
export interface Group { index: number; ids: number[]; hyper: Map<string, unknown>; }
export interface OptimizerState {
  label: string;
  state: Map<number, Entry>;
  groups: Group[];
  /** torch >= 2.6 stores each group's parameter names when the optimizer was built from named_parameters(). */
  paramNames?: string[][];
  /** The model's weights found in the same checkpoint (ordered), if any. */
  weights?: ParamList;
}

const WRAPPERS = ['optimizer', 'optimizer_state_dict', 'optim', 'opt', 'optimizer_state'];
const WEIGHTS = ['state_dict', 'model', 'model_state_dict', 'module'];

function asMap(v: unknown): Map<unknown, unknown> | null {
  return v instanceof Map ? v : null;
}

function toInt(v: unknown): number | null {
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  return null;
}

/** The number in a hyperparameter (PyTorch may store lr as a 0-dim tensor, betas as a tuple). */
export function num(v: unknown): number {
  if (v instanceof Tensor) return v.item();
  if (typeof v === 'bigint') return Number(v);
  if (v !== null && typeof v === 'object' && typeof (v as { valueOf(): unknown }).valueOf() === 'number') return (v as { valueOf(): number }).valueOf();
  return Number(v);
}

function weightsOf(root: Map<unknown, unknown>, label: string): ParamList | undefined {
  for (const k of WEIGHTS) {
    const m = asMap(root.get(k));
    if (m && m.size && [...m.values()].every((t) => t instanceof Tensor)) return fromStateDict(m as Map<string, Tensor>, `${label}['${k}']`, true);
  }
  return undefined;
}

/** Parses `sd` (what load() returned for `label`); `index` picks one of a Lightning checkpoint's optimizers. */
export function findOptimizerState(sd: unknown, label: string, index?: number): OptimizerState {
  const root = asMap(sd);
  if (!root) throw new OptimizerStateError(`squisher: ${label} is not a dict (got ${sd === null ? 'None' : sd instanceof Tensor ? 'a tensor' : typeof sd}): not a PyTorch optimizer state_dict`);
  let inner: Map<unknown, unknown> | undefined;
  let where = label;
  if (root.has('state')) inner = root;
  else if (Array.isArray(root.get('optimizer_states'))) {
    // Lightning: one state_dict per optimizer returned by configure_optimizers()
    const list = root.get('optimizer_states') as unknown[];
    if (!list.length) throw new OptimizerStateError(`squisher: ${label}['optimizer_states'] is empty: the checkpoint holds no optimizer`);
    if (index === undefined && list.length > 1) {
      throw new OptionError(`squisher: ${label} holds ${list.length} optimizers (Lightning 'optimizer_states'); choose one with optimizerIndex / --optimizer-index 0..${list.length - 1}`);
    }
    const i = index ?? 0;
    if (!(i >= 0 && i < list.length)) throw new OptionError(`squisher: --optimizer-index ${i} is out of range: ${label} holds ${list.length} optimizer(s)`);
    inner = asMap(list[i]) ?? undefined;
    where = `${label}['optimizer_states'][${i}]`;
  } else {
    const k = WRAPPERS.find((w) => asMap(root.get(w))?.has('state'));
    if (k) { inner = asMap(root.get(k))!; where = `${label}['${k}']`; }
  }
  if (!inner || !inner.has('state')) {
    throw new OptimizerStateError(`squisher: ${label} has no 'state' entry (keys: ${[...root.keys()].slice(0, 10).join(', ')}): not an optimizer state_dict`);
  }
  const stateRaw = asMap(inner.get('state'));
  if (!stateRaw) throw new OptimizerStateError(`squisher: ${where}['state'] is not a dict: not a PyTorch optimizer state_dict`);
  const state = new Map<number, Entry>();
  for (const [k, v] of stateRaw) {
    const id = toInt(k);
    const e = asMap(v);
    if (id === null || !e) throw new OptimizerStateError(`squisher: ${where}['state'] has entry ${String(k)} that is not an integer id with a dict of tensors`);
    state.set(id, e as Entry);
  }
  const groupsRaw = inner.get('param_groups');
  if (!Array.isArray(groupsRaw) || !groupsRaw.length) throw new OptimizerStateError(`squisher: ${where} has no param_groups`);
  let named = true;
  const paramNames: string[][] = [];
  const groups = groupsRaw.map((g, gi): Group => {
    const m = asMap(g);
    const ids = m?.get('params');
    if (!m || !Array.isArray(ids)) throw new OptimizerStateError(`squisher: ${where} param_groups[${gi}] has no 'params' list`);
    const pn = m.get('param_names');
    if (Array.isArray(pn) && pn.length === ids.length && pn.every((x) => typeof x === 'string')) paramNames.push(pn as string[]);
    else named = false;
    return {
      index: gi, hyper: m as Map<string, unknown>, ids: ids.map((x, k) => {
        const n = toInt(x);
        if (n === null) throw new OptimizerStateError(`squisher: ${where} param_groups[${gi}].params[${k}] is not an integer id (${String(x)})`);
        return n;
      }),
    };
  });
  const all = groups.flatMap((g) => g.ids);
  const dup = all.find((id, i) => all.indexOf(id) !== i);
  if (dup !== undefined) throw new OptimizerStateError(`squisher: ${where}: parameter id ${dup} is in more than one place in param_groups`);
  return { label: where, state, groups, paramNames: named ? paramNames : undefined, weights: root !== inner ? weightsOf(root, label) : undefined };
}

/** Each group's hyperparameters for the metadata: lr (and initial_lr), betas / alpha, weight decay, size. */
export function groupSummary(groups: Group[]): Record<string, unknown>[] {
  return groups.map((g) => {
    const h = g.hyper;
    const out: Record<string, unknown> = { params: g.ids.length };
    for (const k of ['lr', 'initial_lr', 'betas', 'alpha', 'decay_rate', 'beta1', 'weight_decay', 'eps', 'initial_accumulator_value', 'amsgrad', 'decoupled_weight_decay']) {
      if (!h.has(k)) continue;
      const v = h.get(k);
      out[k] = Array.isArray(v) ? v.map((x) => num(x)) : typeof v === 'boolean' || v === null ? v : num(v);
    }
    return out;
  });
}
