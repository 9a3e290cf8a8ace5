// A TorchScript nn.Sequential seen as a TS Module tree, so forward hooks can see each layer's input and
// output. Each child runs its own scripted forward (so any scripted layer, even one we have no rule for,
// runs exactly as in Python) and exposes the scripted model's own parameter tensors under the same
// dotted names. Only Sequential containers can be opened up: their forward is known to be "each child
// in order"; any other scripted forward is opaque, and such a model takes the vmap path.
import { Handle, native } from '../../native';
import { Module } from '../../nn/module';
import { ScriptModule } from '../../nn/script';
import { Tensor, wrap } from '../../tensor/tensor';
import { keep } from '../../tensor/scope';

class ScriptedLayer extends Module {
  constructor(readonly scriptedHandle: Handle, private readonly type: string) {
    super();
    this.training = native.jitIsTraining(scriptedHandle);
    // direct parameters/buffers only: nested ones belong to the children registered below
    const children = native.jitChildren(scriptedHandle);
    const childNames = new Set(children.map(([n]) => n));
    const own = <T>(list: [string, T][]): [string, T][] => list.filter(([n]) => !n.includes('.') || !childNames.has(n.split('.')[0]));
    for (const [n, h] of own(native.jitNamedParameters(scriptedHandle))) this._parameters.set(n, keep(new Tensor(h)));
    for (const [n, h] of own(native.jitNamedBuffers(scriptedHandle))) this._buffers.set(n, keep(new Tensor(h)));
    if (type === 'Sequential') for (const [n, t, h] of children) this.registerModule(n, new ScriptedLayer(h, t));
  }
  get typeName(): string { return this.type; }
  forward(x: Tensor): any {
    if (this.type === 'Sequential') {
      let y: any = x;
      for (const m of this._modules.values()) y = m.call(y);
      return y;
    }
    return wrap(native.jitForward(this.scriptedHandle, [x.handle]));
  }
}

/** The Module tree view of a scripted Sequential, or null when the top level is not a Sequential. */
export function scriptView(m: ScriptModule): Module | null {
  if (m.typeName !== 'Sequential') return null;
  return new ScriptedLayer(m.native, 'Sequential');
}
