// Which tensor of a model's output holds the logits: traced Hugging Face models return tuples (logits
// first) or dicts ('logits'); `output` picks by index or key, and a missing one is an error naming what
// the model does return. The graph engine does the same in native/fisher/loss.cpp.
import { OptionError } from '../errors';
import { Tensor } from '../tensor/tensor';
import { Handle, native } from '../native';

function describe(out: unknown): string {
  if (Array.isArray(out)) return `a tuple/list of ${out.length}`;
  if (out && typeof out === 'object') return `a dict with keys ${Object.keys(out).map((k) => `'${k}'`).join(', ')}`;
  return typeof out;
}

export function pickOutput(out: unknown, which?: number | string): Tensor {
  if (out instanceof Tensor && (which === undefined || which === 0)) return out;
  let picked: unknown;
  if (which === undefined) {
    if (Array.isArray(out) && out.length) picked = out[0];
    else if (out && typeof out === 'object' && 'logits' in out) picked = (out as Record<string, unknown>).logits;
    else throw new OptionError(`fisherDiagonal: the model returns ${describe(out)}: pick the logits with the output option (an index or a key)`);
  } else if (typeof which === 'number') {
    if (!Array.isArray(out) || which < 0 || which >= out.length) throw new OptionError(`fisherDiagonal: output ${which} does not exist: the model returns ${describe(out)}`);
    picked = out[which];
  } else {
    if (!out || typeof out !== 'object' || Array.isArray(out) || out instanceof Tensor || !(which in out)) {
      throw new OptionError(`fisherDiagonal: output '${which}' does not exist: the model returns ${describe(out)}`);
    }
    picked = (out as Record<string, unknown>)[which];
  }
  // a dict's values may arrive as raw handles (wrap() converts arrays only)
  if (!(picked instanceof Tensor) && native.isTensor(picked)) picked = new Tensor(picked as Handle);
  if (!(picked instanceof Tensor)) throw new OptionError(`fisherDiagonal: the selected output is not a tensor; the model returns ${describe(out)}`);
  return picked;
}
