// The parameters a Fisher is keyed by: one entry per tensor, named as PyTorch's named_parameters() names
// it (the first name; tied copies are dropped), with the other names kept as aliases so a functional
// call can swap every name that reaches the tensor. TorchScript's own named_parameters() lists a tied
// tensor once per name, and its wrappers are new objects each call, so identity is the storage, offset
// and shape.
import { native } from '../native';
import { Module } from '../nn/module';
import { Tensor } from '../tensor/tensor';
import { OptionError } from '../errors';

export interface NamedParam { name: string; tensor: Tensor; aliases: string[]; }

function key(t: Tensor): string {
  const [storage, , offset] = native.storageInfo(t.handle);
  return `${storage}:${offset}:${t.shape.join('x')}:${t.dtype}`;
}

/** Every (name, tensor) pair, tied ones once per name, in named_parameters order. */
function everyName(model: Module): [string, Tensor][] {
  if (model.ownsTensors) return model.namedParameters();
  const out: [string, Tensor][] = [];
  for (const [mp, m] of model.namedModules()) {
    const pre = mp ? `${mp}.` : '';
    if (m !== model && m.ownsTensors) {
      for (const [n, t] of m.namedParameters()) out.push([pre + n, t]);
      continue;
    }
    for (const [n, t] of m._parameters) if (t) out.push([pre + n, t]);
  }
  return out;
}

/** Trainable parameters, deduplicated, in named_parameters order; `only` keeps these names. */
export function uniqueParams(model: Module, only?: string[]): NamedParam[] {
  const byKey = new Map<string, NamedParam>();
  const out: NamedParam[] = [];
  for (const [n, t] of everyName(model)) {
    if (!t.requiresGrad) continue;
    const k = key(t);
    const seen = byKey.get(k);
    if (seen) { seen.aliases.push(n); continue; }
    const p = { name: n, tensor: t, aliases: [n] };
    byKey.set(k, p);
    out.push(p);
  }
  if (!only) return out;
  const missing = only.filter((n) => !out.some((p) => p.name === n));
  if (missing.length) throw new OptionError(`the model has no trainable parameter(s) ${missing.join(', ')}`);
  return out.filter((p) => only.includes(p.name));
}
