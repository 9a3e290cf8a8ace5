// Distributed merging of models too large for one process: tensor i (in the first model's order) goes to
// rank i mod W; each rank merges its tensors with mergeModels (reading only those from the sources) and
// writes them as its shard of a sharded safetensors folder (sharded.ts). Per-model normalisation needs
// each Fisher's global norm: every rank computes it over all of the Fisher's tensors.
import { MERGE_OPTIONS, mergeModels, MergeOptions, TensorSource } from '../apps/merge';
import { OptionError } from '../errors';
import { checkOptions, optionKeys, pickOptions } from '../options';
import { InitOptions, ProcessGroup, withGroup } from './group';
import { writeSharded } from './sharded';

export interface DistributedMergeOptions extends MergeOptions, InitOptions {
  /** The group (default: the default group, else one joined from the environment and left after). */
  group?: ProcessGroup;
  /** The output folder (a sharded safetensors checkpoint). */
  out: string;
  /** Replace OUT if it exists. */
  overwrite?: boolean;
  /** Written into every shard's __metadata__. */
  metadata?: Record<string, string>;
}
const DISTRIBUTED_MERGE_OPTIONS = optionKeys<DistributedMergeOptions>('distributedMerge', {
  method: true, weights: true, floor: true, normalize: true, base: true, baseFisher: true, onProgress: true, signal: true,
  backend: true, timeoutMs: true, rank: true, worldSize: true, localRank: true, masterAddr: true, masterPort: true,
  group: true, out: true, overwrite: true, metadata: true,
});

export interface DistributedMergeResult {
  out: string;
  /** The tensors this rank merged and wrote. */
  mine: string[];
  averagedOnly: string[];
  copied: string[];
}

function only(src: TensorSource, names: string[]): TensorSource {
  return { label: src.label, names: () => names, get: (n) => src.get(n) };
}

export async function distributedMerge(models: TensorSource[], fishers: TensorSource[] | null, o: DistributedMergeOptions): Promise<DistributedMergeResult> {
  checkOptions('distributedMerge', o, DISTRIBUTED_MERGE_OPTIONS);
  if (!o.out) throw new OptionError('distributedMerge: `out` (the output folder) is required');
  if (!models.length) throw new OptionError('distributedMerge: no models given');
  // (A rank's own failure while making its shard is reported to every rank by writeSharded.)
  return withGroup(o, async (g) => {
    const names = models[0].names();
    for (const m of models.slice(1)) {
      const have = new Set(m.names());
      if (have.size !== names.length || names.some((n) => !have.has(n))) throw new OptionError(`merge: ${m.label} does not have the same tensors as ${models[0].label}`);
    }
    const res: DistributedMergeResult = { out: o.out, mine: [], averagedOnly: [], copied: [] };
    await writeSharded(g, names, o, async (mine) => {
      res.mine = mine;
      const r = await mergeModels(models.map((m) => only(m, mine)), fishers, pickOptions(o, MERGE_OPTIONS));
      res.averagedOnly = r.averagedOnly;
      res.copied = r.copied;
      return r.merged;
    });
    return res;
  });
}
