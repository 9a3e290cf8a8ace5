// The c10d part of the addon (native/distributed), typed here so lib/native.ts stays the addon's core.
import { Handle, native } from '../native';

export type GroupHandle = { readonly __group: unique symbol };

export interface NativeGroupConfig {
  backend: 'gloo' | 'nccl';
  rank: number;
  worldSize: number;
  localRank: number;
  masterAddr: string;
  masterPort: number;
  timeoutMs: number;
}

export interface PeerState {
  rank: number;
  /** Collectives the rank has entered so far. */
  collectives: number;
  /** Its heartbeat moved while we watched. */
  alive: boolean;
}

export interface NativeDistributed {
  initProcessGroup(cfg: NativeGroupConfig): Promise<GroupHandle>;
  allReduce(g: GroupHandle, t: Handle): Promise<void>;
  broadcast(g: GroupHandle, t: Handle, root: number): Promise<void>;
  barrier(g: GroupHandle): Promise<void>;
  diagnose(g: GroupHandle, watchMs: number): Promise<PeerState[]>;
  destroy(g: GroupHandle): Promise<void>;
  backends(): { gloo: boolean; nccl: boolean };
}

export const c10d: NativeDistributed = (native as unknown as { distributed: NativeDistributed }).distributed;
