// inspect() of a sharded checkpoint: every listed tensor's name, dtype, shape and shard, from the shards'
// headers (safetensors) or pickles (.bin) only: no tensor data is read.
import { DType } from '../tensor';
import type { InspectResult, TensorEntry } from './inspect';
import { ShardedCheckpoint } from './sharded';
import { LoadOptions } from './torchsave';

export function inspectSharded(file: string, opts: Pick<LoadOptions, 'allowGlobals'> = {}): InspectResult {
  const ck = ShardedCheckpoint.open(file, opts);
  try {
    ck.validate();
    const tensors: TensorEntry[] = ck.keys().map((name) => {
      const d = ck.describe(name);
      return { name, dtype: d.dtype as DType, shape: d.shape, nbytes: d.nbytes, storageBytes: d.storageBytes, storageKey: d.storageKey, shard: d.shard };
    });
    // storages are per shard: a storage key is only unique within its shard
    const storages = new Map<string, number>();
    for (const t of tensors) storages.set(t.storageKey !== undefined ? `${t.shard}\n${t.storageKey}` : `${t.shard}\n#${t.name}`, t.storageBytes);
    const metadata: Record<string, string> = {};
    for (const [k, v] of Object.entries(ck.metadata)) metadata[k] = typeof v === 'string' ? v : JSON.stringify(v);
    return {
      file: ck.file, format: 'sharded', shards: ck.shardFiles(), tensors, values: [], hyperparameters: [],
      totalStorageBytes: [...storages.values()].reduce((a, b) => a + b, 0), metadata,
    };
  } finally {
    ck.close();
  }
}
