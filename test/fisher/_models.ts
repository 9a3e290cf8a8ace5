// Shared by the Fisher tests on models written by PyTorch, transformers and timm (scripts/fixtures/
// real_models.py and fisher_adversarial.py): a case's TorchScript model, data and float64 torch.func
// references, and the per-parameter error measure every such test uses.
import { ScriptModule, Tensor } from '../../lib';
import { loadSafetensors } from '../../lib/io';
import { fixture } from '../helpers/oracle';

/** `<prefix>_<name>.jit.pt`, its data {x, y} and its references ('<variant>/<parameter>'). */
export function loadCase(prefix: string, name: string): { m: ScriptModule; d: { x: Tensor; y: Tensor }; ref: Map<string, Tensor> } {
  const m = ScriptModule.load(fixture(`${prefix}_${name}.jit.pt`));
  const d = loadSafetensors(fixture(`${prefix}_${name}_data.safetensors`));
  return { m, d: { x: d.get('x')!, y: d.get('y')! }, ref: loadSafetensors(fixture(`${prefix}_${name}_ref.safetensors`)) };
}

/**
 * The worst per-parameter ‖got − ref‖ / ‖ref‖ over `names`, and where. A parameter whose true Fisher is zero
 * (BERT's attention key bias: softmax ignores a shift of all scores; a branch that never runs) is measured
 * against 1e-6 of the largest reference instead, since float32 leaves ~1e-9 of noise where float64 leaves ~1e-20.
 */
export function worstOf(got: Map<string, Tensor>, ref: (name: string) => Tensor, names: string[]): [number, string] {
  const norms = names.map((k) => ref(k).to('float64').norm().item());
  const floor = 1e-6 * Math.max(...norms);
  let w: [number, string] = [0, ''];
  names.forEach((k, i) => {
    const e = got.get(k)!.to('float64').sub(ref(k).to('float64')).norm().item() / Math.max(norms[i], floor);
    if (e > w[0]) w = [e, k];
  });
  return w;
}
