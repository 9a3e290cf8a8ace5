// TorchScript archives (torch.jit.save): their parameters and buffers by name, through libtorch's own
// loader (running them as modules is ScriptModule's job in lib/nn).
import * as path from 'path';
import { native } from '../native';
import { Tensor } from '../tensor';
import { CheckpointError } from './source';
import { OrderedDict } from './values';

export interface TorchScriptLoadOptions {
  /** 'cpu' (default) or a CUDA device; 'keep' leaves tensors where the archive put them. */
  mapLocation?: string;
}

/** Parameters then buffers of a TorchScript module, by dotted name, like module.state_dict(). */
export function loadTorchScript(file: string, opts: TorchScriptLoadOptions = {}): OrderedDict<string, Tensor> {
  const loc = opts.mapLocation ?? 'cpu';
  let m;
  try {
    m = native.jitLoad(path.resolve(file), loc === 'keep' ? null : loc);
  } catch (e) {
    throw new CheckpointError(file, `cannot load as TorchScript: ${(e as Error).message.split('\n')[0]}`);
  }
  const out = new OrderedDict<string, Tensor>();
  for (const [n, h] of native.jitNamedParameters(m)) out.set(n, new Tensor(h));
  for (const [n, h] of native.jitNamedBuffers(m)) out.set(n, new Tensor(h));
  return out;
}
