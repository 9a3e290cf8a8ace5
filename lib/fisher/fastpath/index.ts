// The fast path: Σ_n g_n² for every parameter from ONE forward pass (hooks record each layer's input
// and output) and one backward per Fisher term, taken to the layer outputs only (∂L/∂output), never
// materialising B×P per-sample gradients. Each rule lives in its own file (linear, conv, embedding, norm).
import { grad as autogradGrad } from '../../autograd';
import { Module } from '../../nn/module';
import { ScriptModule } from '../../nn/script';
import { Tensor } from '../../tensor/tensor';
import { tidy } from '../../tensor/scope';
import { Acc } from './common';
import { convSumSq } from './conv';
import { embeddingSumSq } from './embedding';
import { describe, LayerInfo } from './layer-info';
import { linearSumSq } from './linear';
import { batchNormSumSq, layerNormSumSq } from './norm';
import { scriptView } from './script-view';

export interface FastLayer { prefix: string; module: Module; info: LayerInfo; }
export interface FastPlan { model: Module; layers: FastLayer[]; }

/**
 * Whether every trainable parameter of `model` sits in a layer with a fast-path rule: the plan, or
 * the reason there is none (the caller then uses the vmap path).
 */
export function planFastPath(model: Module, only?: Set<string>): FastPlan | string {
  let view: Module = model;
  if (model instanceof ScriptModule) {
    const v = scriptView(model);
    if (!v) return `the TorchScript model's top level is ${model.typeName}, not a Sequential: its layers cannot be hooked`;
    view = v;
  }
  const layers: FastLayer[] = [];
  const covered = new Set<string>();
  const owner = new Map<Tensor, string>();
  for (const [prefix, m] of view.namedModules()) {
    if (m !== view && m.ownsTensors) return `'${prefix}' is a ${m.typeName} inside a TS module: its layers cannot be hooked`;
    const own = [...m._parameters].filter(([n, t]) => t && t.requiresGrad && (!only || only.has(prefix ? `${prefix}.${n}` : n)));
    if (!own.length) continue;
    // a tensor held by two layers is one parameter with two uses: Σ_n(g_{n,1} + g_{n,2})², which the
    // per-layer rules do not form
    for (const [n, t] of own) {
      const name = prefix ? `${prefix}.${n}` : n;
      const first = owner.get(t!);
      if (first) return `parameter '${first}' is shared with '${name}'`;
      owner.set(t!, name);
    }
    const info = describe(m);
    if (typeof info === 'string') return `layer '${prefix}': ${info}`;
    info.params = info.params.filter((p) => own.some(([n]) => n === p));
    layers.push({ prefix, module: m, info });
    for (const [n] of own) covered.add(prefix ? `${prefix}.${n}` : n);
  }
  const missing = model.namedParameters().filter(([n, t]) => t.requiresGrad && (!only || only.has(n)) && !covered.has(n)).map(([n]) => n);
  if (missing.length) return `parameters ${missing.join(', ')} are outside the hookable layers`;
  return { model: view, layers };
}

function sumSq(l: FastLayer, input: Tensor, delta: Tensor, acc: Acc, scale: number): void {
  const w = l.module._parameters.get('weight');
  switch (l.info.kind) {
    case 'Linear': return linearSumSq(input, delta, acc, scale);
    case 'Conv1d': case 'Conv2d': return convSumSq(l.info, input, delta, w!.shape, acc, scale);
    case 'Embedding': return embeddingSumSq(l.info, input, delta, w!.shape, acc, scale);
    case 'LayerNorm': return layerNormSumSq(l.info, input, delta, acc, scale);
    case 'BatchNorm': return batchNormSumSq(l.info, input, delta, acc, scale);
  }
}

/** One forward with hooks; `backprops(out)` gives the losses (with scales) whose per-sample squared grads to add. */
export interface ForwardRecord { output: Tensor; inputs: Tensor[]; outputs: Tensor[]; }

export function hookedForward(plan: FastPlan, x: Tensor): ForwardRecord {
  const seen = new Map<Module, [Tensor, Tensor][]>();
  const removers = plan.layers.map((l) => l.module.registerForwardHook((m, ins, out) => {
    const list = seen.get(m) ?? [];
    list.push([ins[0] as Tensor, out as Tensor]);
    seen.set(m, list);
  }));
  try {
    const output = plan.model.call(x) as Tensor;
    const inputs: Tensor[] = [], outputs: Tensor[] = [];
    for (const l of plan.layers) {
      const calls = seen.get(l.module) ?? [];
      // A layer used twice shares its weight across two places: the per-sample gradient is then a sum of
      // two terms before squaring, which these rules do not form. Refuse rather than be wrong.
      if (calls.length !== 1) throw new FastPathUnsupported(`layer '${l.prefix}' ran ${calls.length} times in one forward`);
      inputs.push(calls[0][0]);
      outputs.push(calls[0][1]);
    }
    return { output, inputs, outputs };
  } finally {
    for (const r of removers) r();
  }
}

export class FastPathUnsupported extends Error {}

/**
 * Adds scale·Σ_n g_n² to acc for the loss `loss` (a scalar built from rec.output, summed over samples),
 * using ∂loss/∂(layer output) from one backward. Keys of acc are full parameter names.
 */
export function accumulateFast(plan: FastPlan, rec: ForwardRecord, loss: Tensor, scale: number, acc: Map<string, Tensor>): void {
  const deltas = tidy(() => autogradGrad(loss, rec.outputs, { retainGraph: true, allowUnused: true }));
  try {
    plan.layers.forEach((l, i) => {
      const d = deltas[i];
      if (!d) return;  // this layer does not reach the loss: zero contribution
      const name = (local: string) => (l.prefix ? `${l.prefix}.${local}` : local);
      const a: Acc = {};
      for (const p of l.info.params) if (acc.has(name(p))) a[p as 'weight' | 'bias'] = acc.get(name(p));
      // each layer in its own scope, and its δ freed once used: temporaries never pile up across layers
      tidy(() => sumSq(l, rec.inputs[i].detach(), d, a, scale));
      d.dispose();
    });
  } finally {
    for (const d of deltas) d?.dispose();
  }
}
