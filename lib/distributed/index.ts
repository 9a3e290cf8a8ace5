// Data-parallel work across processes and machines on torch.distributed's c10d: process groups (Gloo on
// CPU, NCCL on CUDA), the Fisher diagonal with its data sharded across ranks, merging and pruning with
// tensors split across ranks by name, and a torchrun-style local launcher.
export { ProcessGroup, initProcessGroup, getProcessGroup, allReduce, broadcast, barrier, destroy, getRank, getWorldSize, availableBackends, DIAGNOSE_MS } from './group';
export type { InitOptions, Backend } from './group';
export { rendezvousFrom } from './env';
export type { Rendezvous } from './env';
export { launch, freePort, describeExit } from './launcher';
export type { LaunchOptions, LaunchResult, WorkerExit } from './launcher';
export { distributedFisher } from './fisher';
export type { DistributedFisherOptions } from './fisher';
export { safetensorsFolder, SafetensorsFolder, shardData, exampleIndices, batchRanges } from './shard';
export type { ShardSpec } from './shard';
export { distributedMerge } from './merge';
export { shardedSource, assignByIndex, shardFileName, writeSharded, INDEX_FILE } from './sharded';
export type { ShardedWrite } from './sharded';
export type { DistributedMergeOptions, DistributedMergeResult } from './merge';
export { distributedPrune } from './prune';
export type { DistributedPruneOptions, DistributedPruneResult } from './prune';
