// Where the Squisher learns the model's parameter names, shapes and ORDER. An optimizer state_dict holds
// integer ids, not names; the ids follow the order the parameters were handed to the optimizer, which the
// conventions derive from the model's named_parameters() order. Only some sources know that order:
// a torch.save state_dict (a pickled dict keeps insertion order), a TorchScript archive, a TS Module, an
// explicit names list. A safetensors header does not: its keys are sorted as strings ('1.weight' <
// '10.weight' < '2.weight'), so a safetensors model is marked unordered and only gives names and shapes.
import { checkpointFormat, loadStateDict, loadTorchScriptParameters } from '../../io';
import { OptimizerStateError } from '../../errors';
import { storageAliases } from '../../apps/named';
import { Tensor } from '../../tensor/tensor';

/** Parameter names and shapes, in the model's order when `ordered`. */
export interface ParamList {
  label: string;
  names: string[];
  shapes: Map<string, number[]>;
  /** true when `names` is the model's named_parameters() order. */
  ordered: boolean;
  /** Names that are another parameter under a second name (tied weights): alias -> kept name. */
  aliases: Map<string, string>;
}

// BatchNorm's buffers sit between parameters in a state_dict; the optimizer only saw parameters.
const BUFFER = /(^|\.)(running_mean|running_var|num_batches_tracked)$/;
const FLOAT = new Set(['float32', 'float64', 'float16', 'bfloat16']);

/**
 * The parameters of a state_dict: float entries that are not BatchNorm buffers, each storage once (the
 * first name of a tied group, as named_parameters() keeps it). `ordered` says whether the map's order
 * is the model's.
 */
export function fromStateDict(sd: Map<string, Tensor>, label: string, ordered: boolean): ParamList {
  const aliases = storageAliases(sd);
  const names: string[] = [];
  const shapes = new Map<string, number[]>();
  for (const [n, t] of sd) {
    if (!(t instanceof Tensor) || BUFFER.test(n) || !FLOAT.has(t.dtype) || aliases.has(n)) continue;
    names.push(n);
    shapes.set(n, t.shape);
  }
  for (const a of [...aliases.keys()]) if (!shapes.has(aliases.get(a)!)) aliases.delete(a);
  return { label, names, shapes, ordered, aliases };
}

/**
 * A Module or TorchScript model (anything with namedParameters(), which is in the model's order). A tied
 * parameter listed under two names counts once, as in Python's named_parameters() (the optimizer saw it once).
 */
export function fromModule(m: { namedParameters(): [string, Tensor][] }, label = 'the model'): ParamList {
  return fromStateDict(new Map(m.namedParameters()), label, true);
}

/** A model file: TorchScript and torch.save are ordered; safetensors is not. Tensors are freed here. */
export function fromFile(file: string, o: { allowGlobals?: readonly string[] } = {}): ParamList {
  const fmt = checkpointFormat(file);
  // TorchScript: parsed, never run (lib/io/torchscript.ts); its parameters in named_parameters() order
  const sd = fmt === 'torchscript' ? loadTorchScriptParameters(file) : loadStateDict(file, { allowGlobals: o.allowGlobals });
  try {
    // only a single torch.save / TorchScript file is known to keep the model's order (not safetensors, nor a
    // shard index, whose weight_map need not follow the model)
    return fromStateDict(sd, file, fmt === 'torch' || fmt === 'legacy' || fmt === 'torchscript');
  } finally {
    for (const t of sd.values()) t.dispose();
  }
}

/**
 * An explicit list of names in the model's named_parameters() order; shapes come from `shapesFrom` (a
 * model, in any format). Every name must be a parameter there.
 */
export function withOrder(names: unknown, shapesFrom: ParamList, what: string): ParamList {
  if (!Array.isArray(names) || !names.every((n) => typeof n === 'string')) {
    throw new OptimizerStateError(`squisher: ${what} must be a JSON list of parameter names (named_parameters() order) or {"groups": [[...], ...]}`);
  }
  const seen = new Set<string>();
  const shapes = new Map<string, number[]>();
  for (const raw of names as string[]) {
    const n = shapesFrom.aliases.get(raw) ?? raw;
    if (seen.has(n)) throw new OptimizerStateError(`squisher: ${what} lists '${raw}' twice${n !== raw ? ` (it is ${n})` : ''}`);
    seen.add(n);
    const s = shapesFrom.shapes.get(n);
    if (!s) throw new OptimizerStateError(`squisher: ${what} names '${raw}', which is not a parameter of ${shapesFrom.label}`);
    shapes.set(n, s);
  }
  return { label: what, names: [...seen], shapes, ordered: true, aliases: shapesFrom.aliases };
}
