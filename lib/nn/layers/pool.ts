import { callOp, Tensor } from '../../tensor/tensor';
import { Module } from '../module';

type K = number | number[];

export class MaxPool2d extends Module {
  constructor(readonly kernelSize: K, readonly stride?: K, readonly padding: K = 0) { super(); }
  forward(x: Tensor): Tensor {
    return callOp('aten::max_pool2d', '', x, this.kernelSize, this.stride ?? this.kernelSize, this.padding, 1, false);
  }
}
export class AvgPool2d extends Module {
  constructor(readonly kernelSize: K, readonly stride?: K, readonly padding: K = 0) { super(); }
  forward(x: Tensor): Tensor {
    return callOp('aten::avg_pool2d', '', x, this.kernelSize, this.stride ?? this.kernelSize, this.padding, false, true, null);
  }
}
export class MaxPool1d extends Module {
  constructor(readonly kernelSize: number, readonly stride?: number, readonly padding = 0) { super(); }
  forward(x: Tensor): Tensor {
    return callOp('aten::max_pool1d', '', x, [this.kernelSize], [this.stride ?? this.kernelSize], [this.padding], [1], false);
  }
}
export class AvgPool1d extends Module {
  constructor(readonly kernelSize: number, readonly stride?: number, readonly padding = 0) { super(); }
  forward(x: Tensor): Tensor {
    return callOp('aten::avg_pool1d', '', x, [this.kernelSize], [this.stride ?? this.kernelSize], [this.padding], false, true);
  }
}
export class AdaptiveAvgPool2d extends Module {
  constructor(readonly outputSize: K) { super(); }
  forward(x: Tensor): Tensor { return callOp('aten::adaptive_avg_pool2d', '', x, this.outputSize); }
}
export class AdaptiveAvgPool1d extends Module {
  constructor(readonly outputSize: number) { super(); }
  forward(x: Tensor): Tensor { return callOp('aten::adaptive_avg_pool1d', '', x, [this.outputSize]); }
}
