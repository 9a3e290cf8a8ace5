// ProcessGroup: a c10d process group (TCPStore rendezvous, Gloo or NCCL) seen from JS. Collectives run on
// a worker thread (the event loop keeps turning) and are issued one at a time, in call order, as c10d
// requires every rank to issue them in the same order. A failed collective becomes a DistributedError
// naming the rank at fault when the survivors can tell (see diagnose in native/distributed/group.cpp),
// and the group stays failed: every later call throws the same error.
import { DistributedError, OptionError } from '../errors';
import { checkOptions, optionKeys, pickOptions } from '../options';
import { Tensor } from '../tensor/tensor';
import { Rendezvous, rendezvousFrom } from './env';
import { c10d, GroupHandle, PeerState } from './native';

export type Backend = 'gloo' | 'nccl';

export interface InitOptions extends Partial<Rendezvous> {
  /** 'gloo' (CPU tensors; default) or 'nccl' (CUDA tensors, one process per GPU; needs a CUDA build). */
  backend?: Backend;
  /**
   * Rendezvous and every collective give up after this long (default 300000 ms). A rank that dies is
   * usually noticed at once (its connections close); one that hangs, after timeoutMs. Either way the
   * survivors then take up to DIAGNOSE_MS more to name it.
   */
  timeoutMs?: number;
}
export const INIT_OPTIONS = optionKeys<InitOptions>('initProcessGroup', {
  backend: true, timeoutMs: true, rank: true, worldSize: true, localRank: true, masterAddr: true, masterPort: true,
});

/** How long survivors watch the heartbeats after a failure, to tell a dead rank from a slow one. */
export const DIAGNOSE_MS = 1500;
const DEFAULT_TIMEOUT_MS = 300_000;

function withDeadline<T>(p: Promise<T>, ms: number, onLate: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(onLate()), ms); });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

export class ProcessGroup {
  private h: GroupHandle | null;
  private queue: Promise<unknown> = Promise.resolve();
  private failure: DistributedError | null = null;
  private entered = 0;

  private constructor(h: GroupHandle, readonly rendezvous: Rendezvous, readonly backend: Backend, readonly timeoutMs: number) {
    this.h = h;
  }

  get rank(): number { return this.rendezvous.rank; }
  get worldSize(): number { return this.rendezvous.worldSize; }
  get localRank(): number { return this.rendezvous.localRank; }
  /** The device this rank computes on: 'cpu' for Gloo, 'cuda:LOCAL_RANK' for NCCL. */
  get device(): string { return this.backend === 'nccl' ? `cuda:${this.localRank}` : 'cpu'; }

  /** Joins the group: resolves once every rank has joined, rejects after timeoutMs. */
  static async init(o: InitOptions = {}): Promise<ProcessGroup> {
    checkOptions('ProcessGroup.init', o, INIT_OPTIONS);
    const backend = o.backend ?? 'gloo';
    if (backend !== 'gloo' && backend !== 'nccl') throw new OptionError(`backend must be 'gloo' or 'nccl', got '${backend}'`);
    if (backend === 'nccl' && !c10d.backends().nccl) {
      throw new OptionError("backend 'nccl' is not available: this squisher was built against a libtorch without CUDA/NCCL; use 'gloo'");
    }
    const timeoutMs = o.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (!Number.isInteger(timeoutMs) || timeoutMs < 1) throw new OptionError(`timeoutMs must be a positive integer, got ${timeoutMs}`);
    const r = rendezvousFrom(o);
    let h: GroupHandle;
    try {
      const storeServer = r.rank === 0 && process.env.TORCHELASTIC_USE_AGENT_STORE !== 'True';
      h = await c10d.initProcessGroup({ backend, ...r, storeServer, timeoutMs });
    } catch (e) {
      throw new DistributedError(`rank ${r.rank}: could not join the ${r.worldSize}-rank group at ${r.masterAddr}:${r.masterPort} ` +
        `within ${timeoutMs} ms: ${(e as Error).message}`, undefined, { cause: e });
    }
    return new ProcessGroup(h, r, backend, timeoutMs);
  }

  /**
   * Sums `t` over every rank, in place. A tensor that is not contiguous or not on this group's device
   * (CPU for Gloo, cuda:LOCAL_RANK for NCCL) goes through a contiguous copy there.
   */
  allReduce(t: Tensor): Promise<void> {
    return this.collective('allReduce', (h) => this.staged(t, (s) => c10d.allReduce(h, s.handle)));
  }

  /** Copies rank `root`'s `t` into every other rank's `t`, in place (same shape and dtype everywhere). */
  broadcast(t: Tensor, root = 0): Promise<void> {
    if (!Number.isInteger(root) || root < 0 || root >= this.worldSize) throw new OptionError(`broadcast: root must be a rank in [0, ${this.worldSize}), got ${root}`);
    return this.collective('broadcast', (h) => this.staged(t, (s) => c10d.broadcast(h, s.handle, root)));
  }

  private async staged(t: Tensor, call: (s: Tensor) => Promise<void>): Promise<void> {
    const here = t.device === this.device || (this.device === 'cuda:0' && t.device === 'cuda');
    if (here && t.isContiguous()) return call(t);
    const s = t.to(this.device).contiguous();
    try {
      await call(s);
      t.copy_(s);
    } finally { if (s !== t) s.dispose(); }
  }

  /** Resolves once every rank has reached it. */
  barrier(): Promise<void> {
    return this.collective('barrier', (h) => c10d.barrier(h));
  }

  /** Leaves the group (waits for collectives already issued); a second call does nothing. */
  async destroy(): Promise<void> {
    const h = this.h;
    if (!h) return;
    this.h = null;
    await this.queue.catch(() => undefined);
    await c10d.destroy(h);
  }

  get destroyed(): boolean { return this.h === null; }

  /**
   * Leaves the group because this rank failed on its own (not in a collective): records why in the store,
   * where the others' diagnosis finds it, then leaves, which closes this rank's connections so the others
   * fail at once instead of at their timeout. The group cannot be used afterwards (as after any failure).
   */
  async abort(reason: string): Promise<void> {
    const h = this.h;
    if (!h) return;
    if (!this.failure) {
      try {
        await withDeadline(c10d.blame(h, `${this.rank}|failed: ${reason.replace(/\s+/g, ' ').slice(0, 2000)}`), 5000, () => new Error('blame timed out'));
      } catch { /* the store is gone: the others will see this rank's heartbeat stop */ }
    }
    await this.destroy();
  }

  private collective(what: string, call: (h: GroupHandle) => Promise<void>): Promise<void> {
    const next = this.queue.then(async () => {
      if (this.failure) throw this.failure;
      const h = this.h;
      if (!h) throw new DistributedError(`${what}: the process group was destroyed`, undefined);
      const n = ++this.entered;
      try {
        // Belt and braces: c10d gives up after timeoutMs itself; this bounds a native call that would not.
        await withDeadline(call(h), this.timeoutMs + 15_000, () => new Error(`no answer within ${this.timeoutMs + 15_000} ms`));
      } catch (e) {
        this.failure = await this.explain(h, what, n, e);
        throw this.failure;
      }
    });
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** Turns a failed collective into a DistributedError naming the rank at fault when the store tells. */
  private async explain(h: GroupHandle, what: string, n: number, e: unknown): Promise<DistributedError> {
    const cause = e instanceof Error ? e.message : String(e);
    const me = this.rank;
    const head = `rank ${me}: ${what} (collective #${n}) failed`;
    let peers: PeerState[] | null = null;
    try {
      peers = await withDeadline(c10d.diagnose(h, DIAGNOSE_MS), DIAGNOSE_MS + 8000, () => new Error('diagnosis timed out'));
    } catch {
      peers = null;
    }
    if (!peers) {
      if (me !== 0) return new DistributedError(`${head}: rank 0, which hosts the rendezvous store, is unreachable (died or hung): ${cause}`, 0, { cause: e });
      return new DistributedError(`${head}: ${cause}`, undefined, { cause: e });
    }
    // What this rank sees, then what the first rank to notice recorded: after a cascade (a survivor that
    // failed and exited looks dead too) the first verdict is the one that names the cause.
    const dead = peers.filter((p) => p.rank !== me && !p.alive);
    const behind = peers.filter((p) => p.rank !== me && p.collectives < n);
    let verdict = '';
    if (dead.length) verdict = `${dead[0].rank}|died or was stopped (no heartbeat for ${DIAGNOSE_MS} ms)`;
    else if (behind.length) verdict = `${behind[0].rank}|did not reach collective #${n} within ${this.timeoutMs} ms (at #${behind[0].collectives}: hung, much slower, or issuing different collectives)`;
    try {
      const first = await withDeadline(c10d.blame(h, verdict), 8000, () => new Error('blame timed out'));
      if (first) verdict = first;
    } catch { /* the store went away meanwhile: keep our own verdict */ }
    if (!verdict) return new DistributedError(`${head}: ${cause}`, undefined, { cause: e });
    const bar = verdict.indexOf('|');
    const rank = Number(verdict.slice(0, bar));
    const also = dead.filter((p) => p.rank !== rank).map((p) => p.rank);
    return new DistributedError(`${head}: rank ${rank} ${verdict.slice(bar + 1)}` +
      (also.length ? `; rank ${also.join(', ')} stopped since` : '') + `: ${cause}`, rank, { cause: e });
  }
}

let defaultGroup: ProcessGroup | null = null;

/** Joins the default group (as torch.distributed.init_process_group with init_method env://). */
export async function initProcessGroup(o: InitOptions = {}): Promise<ProcessGroup> {
  checkOptions('initProcessGroup', o, INIT_OPTIONS);
  if (defaultGroup) throw new DistributedError('initProcessGroup: the default process group is already initialised; destroy() it first', undefined);
  const g = await ProcessGroup.init(o);
  defaultGroup = g;
  return g;
}

/** The default group, or null when initProcessGroup has not been called. */
export function getProcessGroup(): ProcessGroup | null { return defaultGroup; }

function requireGroup(fn: string): ProcessGroup {
  if (!defaultGroup) throw new DistributedError(`${fn}: no process group; call initProcessGroup() first`, undefined);
  return defaultGroup;
}

export const allReduce = (t: Tensor): Promise<void> => requireGroup('allReduce').allReduce(t);
export const broadcast = (t: Tensor, root = 0): Promise<void> => requireGroup('broadcast').broadcast(t, root);
export const barrier = (): Promise<void> => requireGroup('barrier').barrier();
export const getRank = (): number => requireGroup('getRank').rank;
export const getWorldSize = (): number => requireGroup('getWorldSize').worldSize;

/** Leaves and forgets the default group. */
export async function destroy(): Promise<void> {
  const g = defaultGroup;
  defaultGroup = null;
  if (g) await g.destroy();
}

/**
 * Runs fn with a group: opts.group, else the default group, else one joined from opts / the environment that
 * is left afterwards (only a group joined here is destroyed here). When fn fails, leaving at once closes this
 * rank's connections, so the other ranks fail now rather than at their timeout; a failure to leave then is
 * dropped so that fn's error is the one reported.
 */
export async function withGroup<T>(opts: InitOptions & { group?: ProcessGroup }, fn: (g: ProcessGroup) => Promise<T>): Promise<T> {
  const owned = !opts.group && !defaultGroup;
  const g = opts.group ?? defaultGroup ?? await ProcessGroup.init(pickOptions(opts, INIT_OPTIONS));
  let result: T;
  try {
    result = await fn(g);
  } catch (e) {
    if (owned) await g.destroy().catch(() => undefined);
    throw e;
  }
  if (owned) await g.destroy();
  return result;
}

/** Which backends this build has (Gloo always; NCCL with a CUDA libtorch and nccl.h at build time). */
export function availableBackends(): { gloo: boolean; nccl: boolean } { return c10d.backends(); }
