// Gradient mode scopes and functional gradients, as torch.no_grad / torch.autograd.grad.
import { native } from '../native';
import { Tensor, wrap } from '../tensor/tensor';
import { OptionError } from '../errors';
import { checkOptions, optionKeys } from '../options';

function withGradMode<T>(on: boolean, fn: () => T): T {
  const prev = native.setGradEnabled(on);
  let result: T;
  try {
    result = fn();
  } finally {
    native.setGradEnabled(prev);
  }
  // Grad mode is thread-local state, not async-context state: an async fn would leak the mode to
  // whatever else runs meanwhile, so only synchronous functions are accepted.
  if (result instanceof Promise) {
    throw new OptionError('noGrad/enableGrad take a synchronous function; call them inside each synchronous step');
  }
  return result;
}

/** Runs fn with autograd recording off (torch.no_grad). */
export function noGrad<T>(fn: () => T): T { return withGradMode(false, fn); }
/** Runs fn with autograd recording on (torch.enable_grad). */
export function enableGrad<T>(fn: () => T): T { return withGradMode(true, fn); }
export function isGradEnabled(): boolean { return native.isGradEnabled(); }
export function setGradEnabled(on: boolean): boolean { return native.setGradEnabled(on); }

export interface GradOptions {
  gradOutputs?: (Tensor | null)[];
  retainGraph?: boolean;
  createGraph?: boolean;
  /** Inputs that do not influence the outputs get null instead of an error. */
  allowUnused?: boolean;
}
const GRAD_OPTIONS = optionKeys<GradOptions>('autograd.grad', { gradOutputs: true, retainGraph: true, createGraph: true, allowUnused: true });

/** d(outputs)/d(inputs), as torch.autograd.grad. */
export function grad(outputs: Tensor | Tensor[], inputs: Tensor[], o: GradOptions = {}): (Tensor | null)[] {
  checkOptions('grad', o, GRAD_OPTIONS);
  const outs = Array.isArray(outputs) ? outputs : [outputs];
  return wrap(native.grad(outs.map((t) => t.handle), inputs.map((t) => t.handle),
    o.gradOutputs ? o.gradOutputs.map((g) => (g ? g.handle : null)) : null,
    o.retainGraph ?? null, o.createGraph ?? false, o.allowUnused ?? false));
}

/** Accumulates gradients of outputs into the leaves' .grad, as torch.autograd.backward. */
export function backward(outputs: Tensor[], gradOutputs?: (Tensor | null)[], retainGraph?: boolean): void {
  native.backward(outputs.map((t) => t.handle), gradOutputs ? gradOutputs.map((g) => (g ? g.handle : null)) : null, retainGraph);
}
