import { callOp, Tensor } from '../../tensor/tensor';
import { uniformFanIn } from '../init';
import { Module } from '../module';
import { checkOptions, optionKeys } from '../../options';

export interface ConvOptions {
  stride?: number | number[];
  padding?: number | number[];
  dilation?: number | number[];
  groups?: number;
  bias?: boolean;
}
const CONV_OPTIONS = optionKeys<ConvOptions>('Conv', { stride: true, padding: true, dilation: true, groups: true, bias: true });

function nd(v: number | number[] | undefined, n: number, dflt: number): number[] {
  if (v === undefined) return Array(n).fill(dflt);
  return typeof v === 'number' ? Array(n).fill(v) : v;
}

/** Conv1d/Conv2d with PyTorch's weight layout [out, in/groups, *kernel]. */
export abstract class ConvNd extends Module {
  readonly stride: number[];
  readonly padding: number[];
  readonly dilation: number[];
  readonly groups: number;
  readonly kernelSize: number[];
  constructor(readonly dims: 1 | 2, readonly inChannels: number, readonly outChannels: number, kernel: number | number[], o: ConvOptions = {}) {
    super();
    checkOptions(new.target.name, o, CONV_OPTIONS);
    this.kernelSize = nd(kernel, dims, 1);
    this.stride = nd(o.stride, dims, 1);
    this.padding = nd(o.padding, dims, 0);
    this.dilation = nd(o.dilation, dims, 1);
    this.groups = o.groups ?? 1;
    const fanIn = (inChannels / this.groups) * this.kernelSize.reduce((a, b) => a * b, 1);
    this.registerParameter('weight', uniformFanIn([outChannels, inChannels / this.groups, ...this.kernelSize], fanIn));
    this.registerParameter('bias', o.bias === false ? null : uniformFanIn([outChannels], fanIn));
  }
  get weight(): Tensor { return this.param('weight'); }
  get bias(): Tensor | null { return this.maybeParam('bias'); }
  forward(x: Tensor): Tensor {
    return callOp(`aten::conv${this.dims}d`, '', x, this.param('weight'), this.maybeParam('bias'), this.stride, this.padding, this.dilation, this.groups);
  }
}

export class Conv1d extends ConvNd {
  constructor(inC: number, outC: number, kernel: number | number[], o: ConvOptions = {}) { super(1, inC, outC, kernel, o); }
}
export class Conv2d extends ConvNd {
  constructor(inC: number, outC: number, kernel: number | number[], o: ConvOptions = {}) { super(2, inC, outC, kernel, o); }
}
