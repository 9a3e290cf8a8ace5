import { callOp, Tensor } from '../../tensor/tensor';
import { Module } from '../module';

export class ReLU extends Module { forward(x: Tensor): Tensor { return x.relu(); } }
export class Tanh extends Module { forward(x: Tensor): Tensor { return x.tanh(); } }
export class Sigmoid extends Module { forward(x: Tensor): Tensor { return x.sigmoid(); } }
export class GELU extends Module {
  constructor(readonly approximate: 'none' | 'tanh' = 'none') { super(); }
  forward(x: Tensor): Tensor { return callOp('aten::gelu', '', x, this.approximate); }
}
export class Identity extends Module { forward(x: Tensor): Tensor { return x; } }
export class Softmax extends Module {
  constructor(readonly dim = -1) { super(); }
  forward(x: Tensor): Tensor { return x.softmax(this.dim); }
}

/** Zeroes elements with probability p in training (scaling the rest by 1/(1-p)); identity in eval. */
export class Dropout extends Module {
  constructor(readonly p = 0.5) { super(); }
  forward(x: Tensor): Tensor {
    return this.training && this.p > 0 ? callOp('aten::dropout', '', x, this.p, true) : x;
  }
}

/** Flattens dims startDim..endDim (default: all but the batch dim). */
export class Flatten extends Module {
  constructor(readonly startDim = 1, readonly endDim = -1) { super(); }
  forward(x: Tensor): Tensor { return x.flatten(this.startDim, this.endDim); }
}
