// The demo's model: an MLP 784-H-H-10 as in the Squisher paper's MNIST experiments, and the helpers to
// copy it and to read it through a task's logit columns (so a Fisher of a task-incremental head has the
// same parameter names as the model).
import { manualSeed } from '../device';
import * as nn from '../nn';
import { Module } from '../nn/module';
import { Tensor, tensor } from '../tensor';

/** Initialised on the CPU from `seed` (the same weights on every device), then moved. */
export function mlp(hidden: number, seed: number, device = 'cpu'): Module {
  manualSeed(seed);
  const m = new nn.Sequential(new nn.Flatten(), new nn.Linear(784, hidden), new nn.ReLU(), new nn.Linear(hidden, hidden), new nn.ReLU(), new nn.Linear(hidden, 10));
  return device === 'cpu' ? m : m.to(device);
}

export function cloneModel(m: Module, hidden: number, device = 'cpu'): Module {
  const c = mlp(hidden, 0, device);
  c.loadStateDict(m.stateDict());
  return c;
}

/** m's output restricted to `classes`: the task head of task-incremental learning. */
export class TaskHead extends Module {
  private readonly cols: Tensor;
  constructor(readonly inner: Module, classes: number[]) {
    super();
    this.registerModule('m', inner);
    this.cols = tensor(BigInt64Array.from(classes.map(BigInt)));
  }
  forward(x: Tensor): Tensor {
    const out = this.inner.call(x) as Tensor;
    return out.indexSelect(1, out.device === this.cols.device ? this.cols : this.cols.to(out.device));
  }
  /** Names as the inner model has them ('m.1.weight' -> '1.weight'). */
  static unprefix(d: Map<string, Tensor>): Map<string, Tensor> {
    return new Map([...d].map(([k, v]) => [k.replace(/^m\./, ''), v]));
  }
}
