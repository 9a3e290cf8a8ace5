// The c10d part of the addon (native/distributed), typed here so lib/native.ts stays the addon's core.
import { Handle, native } from '../native';
import { DistributedError } from '../errors';

export type GroupHandle = { readonly __group: unique symbol };

export interface NativeGroupConfig {
  backend: 'gloo' | 'nccl';
  rank: number;
  worldSize: number;
  localRank: number;
  masterAddr: string;
  masterPort: number;
  /** This rank hosts the TCPStore (rank 0, unless torchrun's agent does: TORCHELASTIC_USE_AGENT_STORE). */
  storeServer: boolean;
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
  blame(g: GroupHandle, verdict: string): Promise<string>;
  destroy(g: GroupHandle): Promise<void>;
  backends(): { gloo: boolean; nccl: boolean };
}

const addon = (native as unknown as { distributed?: NativeDistributed }).distributed;

/** The c10d binding; an addon built before native/distributed existed says to rebuild (on first use). */
export const c10d: NativeDistributed = addon ?? new Proxy({} as NativeDistributed, {
  get() {
    throw new DistributedError('this squisher addon was built without native/distributed (c10d); rebuild it: node scripts/install/install.js');
  },
});
