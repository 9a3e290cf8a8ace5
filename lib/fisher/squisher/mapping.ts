// Optimizer ids -> parameter names, proven or refused. An optimizer state_dict numbers its parameters
// group after group in the order each group's list was built; every convention here (plain torch, the
// Hugging Face Trainer, timm, Lightning's configure_optimizers over self.parameters(), consecutive blocks)
// builds each group as a SUBSEQUENCE of named_parameters(). So, with the model's order known, the
// candidate mappings are the ways to deal the names, in order, into the groups such that every state
// tensor has its parameter's shape. We count them (stopping at 2):
//   1 -> the mapping is proven by the shapes (whatever the convention was);
//   0 -> the optimizer is not from this model: the first id/shape that cannot be placed is named;
//   2+ -> the shapes cannot decide: refused, naming the two names that could swap and what to pass
//         (a convention, or the names of each group), unless the caller chose a convention.
// Without the model's order (a safetensors header is sorted, not the model's order), only all-distinct
// shapes prove a mapping. The names the optimizer file itself stores (torch's param_names) and names
// given per group are used as given, after the same shape check.
import { OptimizerStateError, OptionError } from '../../errors';
import { CONVENTIONS } from './conventions';
import { Group, OptimizerState } from './optimizer-state';
import { ParamList } from './params';

export interface Mapping {
  /** Names per group, in id order (groups[g].ids[k] -> names[g][k]). */
  names: string[][];
  /** How the mapping was established (recorded in the metadata). */
  proof: string;
  /** The registered convention that reproduces the mapping, if one does. */
  convention?: string;
}

export interface MappingOptions {
  /** A registered convention to apply (decides when the shapes allow several mappings). */
  convention?: string;
  /** A convention that decides only when the shapes allow several mappings (a Trainer folder: 'hf-trainer'). */
  prefer?: string;
  /** The names of every group, in the optimizer's id order. */
  groupNames?: string[][];
  groupNamesLabel?: string;
  /** Upper bound on the states the counting visits before giving up (then: refused as undecided). */
  budget?: number;
}

type ShapeOf = (id: number) => number[] | null;
const fmt = (s: readonly number[] | null) => (s ? `[${s.join(',')}]` : '[?]');
const same = (a: number[] | null, b: number[]) => a === null || (a.length === b.length && a.every((x, i) => x === b[i]));

function checkGiven(names: string[][], params: ParamList, opt: OptimizerState, shapeOf: ShapeOf, what: string): string[][] {
  if (names.length !== opt.groups.length) {
    throw new OptimizerStateError(`squisher: ${what} has ${names.length} group(s) but ${opt.label} has ${opt.groups.length} param_groups`);
  }
  const seen = new Set<string>();
  return names.map((list, g) => {
    const ids = opt.groups[g].ids;
    if (!Array.isArray(list) || list.length !== ids.length) {
      throw new OptimizerStateError(`squisher: ${what} lists ${Array.isArray(list) ? list.length : 'no'} name(s) for group ${g} but ${opt.label} param_groups[${g}] holds ${ids.length} id(s)`);
    }
    return list.map((raw, k) => {
      const n = params.aliases.get(raw) ?? raw;
      const shape = params.shapes.get(n);
      if (!shape) throw new OptimizerStateError(`squisher: ${what} names '${raw}' (group ${g}), which is not a parameter of ${params.label}`);
      if (seen.has(n)) throw new OptimizerStateError(`squisher: ${what} names '${n}' twice`);
      seen.add(n);
      const s = shapeOf(ids[k]);
      if (!same(s, shape)) {
        throw new OptimizerStateError(`squisher: ${opt.label} state ${ids[k]} (param_groups[${g}]) has shape ${fmt(s)} but '${n}', its name in ${what}, has ${fmt(shape)} in ${params.label}`);
      }
      return n;
    });
  });
}

function checkPartition(names: string[][], params: ParamList, opt: OptimizerState, shapeOf: ShapeOf): string | null {
  for (let g = 0; g < names.length; g++) {
    const ids = opt.groups[g].ids;
    if (names[g].length !== ids.length) return `param_groups[${g}] holds ${ids.length} id(s) but the rule puts ${names[g].length} parameter(s) there`;
    for (let k = 0; k < ids.length; k++) {
      const want = params.shapes.get(names[g][k])!;
      if (!same(shapeOf(ids[k]), want)) return `state ${ids[k]} (param_groups[${g}]) has shape ${fmt(shapeOf(ids[k]))} but the rule gives it '${names[g][k]}' ${fmt(want)}`;
    }
  }
  return null;
}

interface Count { count: number; exhausted: boolean; memo: Map<string, number>; deepest: { i: number; pos: number[] } }

/** Counts (up to 2) the ways to deal the ordered names into the groups' id sequences, shapes matching. */
function countAssignments(params: ParamList, groups: Group[], shapeOf: ShapeOf, budget: number): Count {
  const n = params.names.length;
  const shapes = params.names.map((nm) => params.shapes.get(nm)!);
  const memo = new Map<string, number>();
  const c: Count = { count: 0, exhausted: false, memo, deepest: { i: -1, pos: groups.map(() => 0) } };
  const go = (pos: number[], i: number): number => {
    if (i === n) return 1;
    const key = pos.join(',');
    const m = memo.get(key);
    if (m !== undefined) return m;
    if (memo.size >= budget) { c.exhausted = true; return 2; }
    if (i > c.deepest.i) c.deepest = { i, pos: [...pos] };
    let total = 0;
    for (let g = 0; g < groups.length && total < 2; g++) {
      if (pos[g] >= groups[g].ids.length || !same(shapeOf(groups[g].ids[pos[g]]), shapes[i])) continue;
      pos[g]++;
      total += go(pos, i + 1);
      pos[g]--;
    }
    total = Math.min(total, 2);
    memo.set(key, total);
    return total;
  };
  c.count = go(groups.map(() => 0), 0);
  return c;
}

/** The one assignment (or the first two diverging ones) by walking the memo from the start. */
function walk(params: ParamList, groups: Group[], shapeOf: ShapeOf, memo: Map<string, number>): { names: string[][]; fork?: { i: number; a: number; b: number; pos: number[] } } {
  const n = params.names.length;
  const pos = groups.map(() => 0);
  const names: string[][] = groups.map(() => []);
  const ok = (g: number, i: number) => {
    if (pos[g] >= groups[g].ids.length || !same(shapeOf(groups[g].ids[pos[g]]), params.shapes.get(params.names[i])!)) return false;
    pos[g]++;
    const r = i + 1 === n ? 1 : memo.get(pos.join(',')) ?? 0;
    pos[g]--;
    return r > 0;
  };
  let fork: { i: number; a: number; b: number; pos: number[] } | undefined;
  for (let i = 0; i < n; i++) {
    const fits = groups.map((_, g) => g).filter((g) => ok(g, i));
    if (fits.length > 1 && !fork) fork = { i, a: fits[0], b: fits[1], pos: [...pos] };
    const g = fits[0];
    names[g].push(params.names[i]);
    pos[g]++;
  }
  return { names, fork };
}

function fitsConventions(params: ParamList, opt: OptimizerState, shapeOf: ShapeOf): string[] {
  return CONVENTIONS.filter((c) => {
    const p = c.partition(params, opt.groups);
    return p !== null && checkPartition(p, params, opt, shapeOf) === null;
  }).map((c) => c.name);
}

function sameMapping(a: string[][], b: string[][]): boolean {
  return a.length === b.length && a.every((g, i) => g.length === b[i].length && g.every((n, k) => n === b[i][k]));
}

/** ids -> names for `opt`, proven from `params` (see the file comment), or an OptimizerStateError. */
export function mapIds(params: ParamList, opt: OptimizerState, shapeOf: ShapeOf, o: MappingOptions = {}): Mapping {
  const total = opt.groups.reduce((a, g) => a + g.ids.length, 0);
  if (o.groupNames) return { names: checkGiven(o.groupNames, params, opt, shapeOf, o.groupNamesLabel ?? 'the names given per group'), proof: 'names given per group' };
  if (opt.paramNames) return { names: checkGiven(opt.paramNames, params, opt, shapeOf, `${opt.label}'s param_names`), proof: "param_names stored in the optimizer's param_groups" };
  if (total !== params.names.length) {
    const list = params.names;
    if (params.label.startsWith('names list ')) {
      throw new OptimizerStateError(`squisher: ${params.label} lists ${list.length} names but ${opt.label}'s param_groups hold ${total} ids: ` +
        "list every parameter the optimizer was built on, in named_parameters() order (or {\"groups\": [[...], ...]} for each group's names in id order)");
    }
    throw new OptimizerStateError(`squisher: ${opt.label} covers ${total} parameters but ${params.label === 'the model' ? 'the model' : params.label} has ${list.length} (${list.slice(0, 5).join(', ')}${list.length > 5 ? ', ...' : ''}); ` +
      "was the optimizer built on this model's parameters()? (frozen parameters: pass the names the optimizer holds, per group)");
  }
  if (!params.ordered) return byDistinctShapes(params, opt, shapeOf);

  if (o.convention) {
    const c = CONVENTIONS.find((x) => x.name === o.convention);
    if (!c) throw new OptionError(`squisher: unknown convention '${o.convention}' (one of ${CONVENTIONS.map((x) => x.name).join(', ')})`);
    const p = c.partition(params, opt.groups);
    if (!p) throw new OptimizerStateError(`squisher: convention '${c.name}' (${c.source}) cannot make the ${opt.groups.length} param_groups of ${opt.label}`);
    const bad = checkPartition(p, params, opt, shapeOf);
    if (bad) throw new OptimizerStateError(`squisher: ${opt.label} does not follow convention '${c.name}' with ${params.label}: ${bad}`);
    return { names: p, proof: `convention ${c.name} (chosen), every shape checked`, convention: c.name };
  }

  const cnt = countAssignments(params, opt.groups, shapeOf, o.budget ?? 200_000);
  if (cnt.count === 0) throw new OptimizerStateError(noFit(params, opt, shapeOf, cnt.deepest));
  if (cnt.count === 1 && !cnt.exhausted) {
    const { names } = walk(params, opt.groups, shapeOf, cnt.memo);
    const conv = CONVENTIONS.find((c) => { const p = c.partition(params, opt.groups); return p && sameMapping(p, names); });
    return { names, proof: 'shapes: the only assignment of the model order to the param_groups', ...(conv ? { convention: conv.name } : {}) };
  }
  const fits = fitsConventions(params, opt, shapeOf);
  if (o.prefer && fits.includes(o.prefer)) {
    const c = CONVENTIONS.find((x) => x.name === o.prefer)!;
    return { names: c.partition(params, opt.groups)!, proof: `convention ${c.name} (the shapes allow several mappings; the source says it was made this way), every shape checked`, convention: c.name };
  }
  let detail = '';
  if (!cnt.exhausted) {
    const { fork } = walk(params, opt.groups, shapeOf, cnt.memo);
    if (fork) {
      const [ga, gb] = [opt.groups[fork.a], opt.groups[fork.b]];
      detail = `: '${params.names[fork.i]}' could be state ${ga.ids[fork.pos[fork.a]]} (param_groups[${fork.a}]) or state ${gb.ids[fork.pos[fork.b]]} (param_groups[${fork.b}])`;
    }
  }
  throw new OptimizerStateError(`squisher: the shapes in ${opt.label} fit more than one assignment of ${params.label}'s parameters to its ${opt.groups.length} param_groups${detail}; ` +
    `refusing to guess. ${fits.length ? `Convention(s) that fit: ${fits.join(', ')}; pass --convention NAME (convention: NAME) if the optimizer was built that way, or` : 'Pass'} ` +
    'the names of each group, in order (--param-names FILE with {"groups": [[...], ...]}, from [[name_of[p] for p in g["params"]] for g in optimizer.param_groups])');
}

function noFit(params: ParamList, opt: OptimizerState, shapeOf: ShapeOf, deepest: { i: number; pos: number[] }): string {
  const i = Math.max(0, deepest.i);
  const name = params.names[i];
  const shape = params.shapes.get(name)!;
  if (opt.groups.length === 1) {
    const id = opt.groups[0].ids[deepest.pos[0]];
    return `squisher: ${opt.label} state ${id} has shape ${fmt(shapeOf(id))} but model parameter '${name}' (position ${i}) has ${fmt(shape)}: the ids do not follow this model's parameter order (is the optimizer from another model?)`;
  }
  const next = opt.groups.map((g, k) => (deepest.pos[k] < g.ids.length ? `param_groups[${k}] state ${g.ids[deepest.pos[k]]} ${fmt(shapeOf(g.ids[deepest.pos[k]]))}` : `param_groups[${k}] full`)).join(', ');
  return `squisher: ${opt.label} does not fit ${params.label}: model parameter '${name}' (position ${i}) has shape ${fmt(shape)} but the next ids are ${next} ` +
    '(no assignment of the model order to the param_groups matches every shape; is the optimizer from another model?)';
}

function byDistinctShapes(params: ParamList, opt: OptimizerState, shapeOf: ShapeOf): Mapping {
  const byShape = new Map<string, string[]>();
  for (const n of params.names) {
    const k = fmt(params.shapes.get(n)!);
    byShape.set(k, [...(byShape.get(k) ?? []), n]);
  }
  const shared = [...byShape].filter(([, ns]) => ns.length > 1);
  const why = `${params.label} gives no parameter order (only a torch.save or TorchScript file does: a safetensors header lists names sorted as strings, not in the model's order)`;
  if (shared.length) {
    const [s, ns] = shared[0];
    throw new OptimizerStateError(`squisher: ${why}, and ${shared.reduce((a, [, x]) => a + x.length, 0)} parameters share shapes (e.g. ${ns.slice(0, 3).join(', ')} are all ${s}), ` +
      'so the ids cannot be matched to names. Pass the order: --param-names names.json (a JSON list, [n for n, _ in model.named_parameters()]), ' +
      'or --model a torch.save state_dict (torch.save(model.state_dict(), "model.pt")) or a TorchScript model');
  }
  const names = opt.groups.map((g, gi) => g.ids.map((id) => {
    const s = shapeOf(id);
    if (!s) throw new OptimizerStateError(`squisher: ${why}, and state ${id} (param_groups[${gi}]) has no tensor to match by shape; pass --param-names`);
    const hit = byShape.get(fmt(s));
    if (!hit) throw new OptimizerStateError(`squisher: ${opt.label} state ${id} (param_groups[${gi}]) has shape ${fmt(s)}, which no parameter of ${params.label} has (is the optimizer from another model?)`);
    return hit[0];
  }));
  if (new Set(names.flat()).size !== params.names.length) throw new OptimizerStateError(`squisher: ${opt.label}: two ids have the same shape; ${why}`);
  return { names, proof: 'shapes: every parameter has a distinct shape' };
}
