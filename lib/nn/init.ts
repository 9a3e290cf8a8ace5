// PyTorch's default initialisations (reset_parameters of Linear/Conv: kaiming_uniform_(a=sqrt(5)),
// which reduces to U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights and biases alike).
import { noGrad } from '../autograd';
import { empty } from '../tensor/create';
import { Tensor } from '../tensor/tensor';

export function uniformFanIn(shape: number[], fanIn: number): Tensor {
  const bound = fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
  return noGrad(() => empty(shape).uniform_(-bound, bound));
}
