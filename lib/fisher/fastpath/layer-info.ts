// What a fast-path rule needs to know about a layer, read from a TS-built layer's fields or from a
// scripted layer's attributes (jitGetAttr), so one rule serves both kinds of model.
import { native } from '../../native';
import { Module } from '../../nn/module';
import { Tensor } from '../../tensor/tensor';

export type LayerKind = 'Linear' | 'Conv1d' | 'Conv2d' | 'Embedding' | 'LayerNorm' | 'BatchNorm';

export interface LayerInfo {
  kind: LayerKind;
  /** Parameter local names present ('weight', 'bias'). */
  params: string[];
  stride?: number[]; padding?: number[]; dilation?: number[]; groups?: number; kernel?: number[];
  eps?: number; normalizedShape?: number[];
  runningMean?: Tensor | null; runningVar?: Tensor | null; training?: boolean;
  paddingIdx?: number | null; numEmbeddings?: number;
}

const KIND: Record<string, LayerKind> = {
  Linear: 'Linear', Conv1d: 'Conv1d', Conv2d: 'Conv2d', Embedding: 'Embedding', LayerNorm: 'LayerNorm',
  BatchNorm: 'BatchNorm', BatchNorm1d: 'BatchNorm', BatchNorm2d: 'BatchNorm',
};

/** A scripted layer seen through a TS Module (see script-view.ts). */
export interface ScriptedLike { scriptedHandle: unknown }

function arr(v: unknown): number[] { return Array.isArray(v) ? v.map(Number) : [Number(v)]; }

/** The layer's description, or a reason it has no fast path. */
export function describe(m: Module): LayerInfo | string {
  const kind = KIND[m.typeName];
  if (!kind) return `${m.typeName} has no fast-path rule`;
  const params = [...m._parameters].filter(([, t]) => t && t.requiresGrad).map(([n]) => n);
  const bad = params.filter((p) => p !== 'weight' && p !== 'bias');
  if (bad.length) return `${m.typeName} has unexpected parameters ${bad.join(', ')}`;
  const h = (m as unknown as ScriptedLike).scriptedHandle as any;
  const get = (attr: string, field: string): any => (h ? native.jitGetAttr(h, attr) : (m as any)[field]);
  const info: LayerInfo = { kind, params };
  if (kind === 'Conv1d' || kind === 'Conv2d') {
    const pad = get('padding', 'padding');
    if (typeof pad === 'string') return `${m.typeName} with padding='${pad}' has no fast-path rule`;
    if (h && native.jitGetAttr(h, 'padding_mode') !== 'zeros') return `${m.typeName} with padding_mode='${native.jitGetAttr(h, 'padding_mode')}' has no fast-path rule`;
    Object.assign(info, { stride: arr(get('stride', 'stride')), padding: arr(pad), dilation: arr(get('dilation', 'dilation')),
      groups: Number(get('groups', 'groups')), kernel: arr(get('kernel_size', 'kernelSize')) });
  } else if (kind === 'LayerNorm') {
    Object.assign(info, { eps: Number(get('eps', 'eps')), normalizedShape: arr(get('normalized_shape', 'normalizedShape')) });
  } else if (kind === 'BatchNorm') {
    Object.assign(info, { eps: Number(get('eps', 'eps')), training: m.training,
      runningMean: m._buffers.get('running_mean') ?? null, runningVar: m._buffers.get('running_var') ?? null });
    if (info.training || !info.runningMean) return `${m.typeName} in training mode mixes samples (batch statistics): per-sample gradients are undefined; call model.eval()`;
  } else if (kind === 'Embedding') {
    const pi = h ? native.jitGetAttr(h, 'padding_idx') : (m as any).paddingIdx;
    const w = m._parameters.get('weight')!;
    Object.assign(info, { paddingIdx: pi === null || pi === undefined ? null : Number(pi), numEmbeddings: w.shape[0] });
    if (h && native.jitGetAttr(h, 'max_norm') !== null) return 'Embedding with max_norm renormalises in forward: no fast path';
  }
  return info;
}
