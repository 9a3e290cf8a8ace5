// Turning what a user passes to an optimizer (a Module, named parameters, or PyTorch-style parameter
// groups) into groups of named parameters. Names are what state() is keyed by and how PyTorch's integer
// ids are mapped: ids count through the groups in order, as torch.optim.Optimizer.state_dict numbers them.
import { Tensor } from '../tensor/tensor';
import { OptionError } from '../errors';

/** Anything with PyTorch-ordered named parameters (Module, ScriptModule). */
export interface HasNamedParameters { namedParameters(): [string, Tensor][]; }
export type NamedParams = HasNamedParameters | Iterable<readonly [string, Tensor]>;
/** A parameter group as the user gives it: its parameters plus any options overriding the defaults. */
export type GroupSpec<O> = { params: NamedParams } & Partial<O>;
export type ParamsSpec<O> = NamedParams | GroupSpec<O>[];

function isNamedSource(x: unknown): x is HasNamedParameters {
  return !!x && typeof (x as HasNamedParameters).namedParameters === 'function';
}

function listNamed(p: NamedParams, where: string): [string, Tensor][] {
  const list = isNamedSource(p) ? p.namedParameters() : [...p].map(([n, t]) => [n, t] as [string, Tensor]);
  for (const e of list) {
    if (!Array.isArray(e) || typeof e[0] !== 'string' || !(e[1] instanceof Tensor)) {
      throw new OptionError(`${where}: parameters must be [name, Tensor] pairs (e.g. model.namedParameters())`);
    }
  }
  return list;
}

/** Splits the user's params argument into groups of [name, tensor] with their option overrides. */
export function resolveGroups<O>(spec: ParamsSpec<O>, who: string): { named: [string, Tensor][]; overrides: Partial<O> }[] {
  const isGroupList = Array.isArray(spec) && spec.length > 0 && !Array.isArray(spec[0]) && !isNamedSource(spec[0])
    && typeof spec[0] === 'object' && 'params' in (spec[0] as object);
  const groups = isGroupList
    ? (spec as GroupSpec<O>[]).map((g, i) => {
      const { params, ...overrides } = g;
      return { named: listNamed(params, `${who}: param group ${i}`), overrides: overrides as Partial<O> };
    })
    : [{ named: listNamed(spec as NamedParams, who), overrides: {} as Partial<O> }];
  const seen = new Map<string, number>();
  const tensors = new Set<Tensor>();
  groups.forEach((g, gi) => {
    if (g.named.length === 0) throw new OptionError(`${who}: parameter group ${gi} has no parameters`);
    for (const [n, t] of g.named) {
      if (seen.has(n)) throw new OptionError(`${who}: parameter '${n}' appears twice (groups ${seen.get(n)} and ${gi})`);
      if (tensors.has(t)) throw new OptionError(`${who}: the tensor of parameter '${n}' appears twice under different names`);
      if (!t.isLeaf) throw new OptionError(`${who}: parameter '${n}' is not a leaf tensor (optimizers update leaves in place)`);
      seen.set(n, gi);
      tensors.add(t);
    }
  });
  return groups;
}
