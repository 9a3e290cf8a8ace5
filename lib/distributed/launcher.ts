// A local launcher in the manner of torchrun --standalone: spawns N workers with torchrun's environment
// (RANK, LOCAL_RANK, WORLD_SIZE, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT on a free port), forwards
// their output line by line with a rank prefix, and stops them all when one fails (after a grace period
// in which the survivors report the failure themselves) or when the launcher is interrupted (SIGINT or
// SIGTERM: every worker gets SIGTERM, then SIGKILL if it does not exit).
import { ChildProcess, spawn } from 'child_process';
import * as net from 'net';
import * as readline from 'readline';
import { OptionError } from '../errors';
import { checkOptions, optionKeys } from '../options';

export interface LaunchOptions {
  /** Workers to start (ranks 0..nproc-1 on this machine). */
  nproc: number;
  /** The program each worker runs (default: this Node binary) and its arguments. */
  command?: string;
  args: string[];
  /** Extra environment for every worker (on top of this process's). */
  env?: NodeJS.ProcessEnv;
  /** Rank 0's address (default 127.0.0.1) and port (default: a free one). */
  masterAddr?: string;
  masterPort?: number;
  /** After the first worker fails, how long the others get to finish on their own (default 30000 ms). */
  graceMs?: number;
  /** Where worker output goes (default: this process's stdout/stderr, each line prefixed "[rank r] "). */
  onLine?: (rank: number, stream: 'stdout' | 'stderr', line: string) => void;
  /** Stop every worker (as Ctrl-C does). */
  signal?: AbortSignal;
  /** Listen for SIGINT/SIGTERM on this process and stop the workers (default true). */
  handleSignals?: boolean;
}
const LAUNCH_OPTIONS = optionKeys<LaunchOptions>('launch', {
  nproc: true, command: true, args: true, env: true, masterAddr: true, masterPort: true, graceMs: true, onLine: true,
  signal: true, handleSignals: true,
});

export interface WorkerExit { rank: number; code: number | null; signal: NodeJS.Signals | null; }

export interface LaunchResult {
  /** True when every worker exited with code 0. */
  ok: boolean;
  exits: WorkerExit[];
  /** The first worker to fail, if any. */
  firstFailure?: WorkerExit;
  /** Set when the launcher stopped the workers (interrupt, abort, or the grace period after a failure). */
  stoppedBy?: 'interrupt' | 'failure';
}

/** A TCP port that was free a moment ago (the same race torchrun's standalone mode accepts). */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.once('error', reject);
    s.listen(0, host, () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

const KILL_AFTER_MS = 5000;

export async function launch(o: LaunchOptions): Promise<LaunchResult> {
  checkOptions('launch', o, LAUNCH_OPTIONS);
  if (!Number.isInteger(o.nproc) || o.nproc < 1) throw new OptionError(`nproc must be a positive integer, got ${o.nproc}`);
  const masterAddr = o.masterAddr ?? '127.0.0.1';
  const masterPort = o.masterPort ?? await freePort(masterAddr);
  const graceMs = o.graceMs ?? 30_000;
  const onLine = o.onLine ?? ((rank, stream, line) => (stream === 'stdout' ? process.stdout : process.stderr).write(`[rank ${rank}] ${line}\n`));
  const children: ChildProcess[] = [];
  const exits: (WorkerExit | null)[] = new Array(o.nproc).fill(null);
  let firstFailure: WorkerExit | undefined;
  let stoppedBy: LaunchResult['stoppedBy'];
  let killTimer: NodeJS.Timeout | undefined;
  let graceTimer: NodeJS.Timeout | undefined;

  const stopAll = (why: 'interrupt' | 'failure'): void => {
    stoppedBy ??= why;
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
    killTimer ??= setTimeout(() => {
      for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    }, KILL_AFTER_MS);
  };
  const onSignal = (): void => stopAll('interrupt');
  const onAbort = (): void => stopAll('interrupt');
  if (o.handleSignals !== false) { process.on('SIGINT', onSignal); process.on('SIGTERM', onSignal); }
  o.signal?.addEventListener('abort', onAbort, { once: true });

  try {
    const done = Array.from({ length: o.nproc }, (_, rank) => new Promise<void>((resolve) => {
      const child = spawn(o.command ?? process.execPath, o.args, {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: {
          ...process.env,
          // As torchrun: one intra-op thread per worker unless told otherwise (N workers share the cores).
          OMP_NUM_THREADS: process.env.OMP_NUM_THREADS ?? '1',
          ...o.env,
          RANK: String(rank), LOCAL_RANK: String(rank), WORLD_SIZE: String(o.nproc), LOCAL_WORLD_SIZE: String(o.nproc),
          GROUP_RANK: '0', MASTER_ADDR: masterAddr, MASTER_PORT: String(masterPort),
        },
      });
      children.push(child);
      const streams: Promise<void>[] = [];
      for (const name of ['stdout', 'stderr'] as const) {
        const rl = readline.createInterface({ input: child[name]!, crlfDelay: Infinity });
        rl.on('line', (line) => onLine(rank, name, line));
        streams.push(new Promise((r) => rl.once('close', () => r())));
      }
      let settled = false;
      const finish = (code: number | null, signal: NodeJS.Signals | null): void => {
        if (settled) return;
        settled = true;
        const ex: WorkerExit = { rank, code, signal };
        exits[rank] = ex;
        if ((code !== 0 || signal) && !firstFailure) {
          firstFailure = ex;
          if (!stoppedBy) graceTimer = setTimeout(() => stopAll('failure'), graceMs);
        }
        void Promise.all(streams).then(() => resolve());
      };
      child.once('error', (e) => {
        onLine(rank, 'stderr', `cannot start ${o.command ?? process.execPath}: ${e.message}`);
        if (child.pid === undefined) finish(127, null);  // never started: no 'exit' will come
      });
      child.once('exit', (code, signal) => finish(code, signal));
    }));
    if (o.signal?.aborted) stopAll('interrupt');
    await Promise.all(done);
  } finally {
    clearTimeout(killTimer);
    clearTimeout(graceTimer);
    if (o.handleSignals !== false) { process.removeListener('SIGINT', onSignal); process.removeListener('SIGTERM', onSignal); }
    o.signal?.removeEventListener('abort', onAbort);
  }
  const all = exits.map((e, rank) => e ?? { rank, code: null, signal: null });
  return { ok: all.every((e) => e.code === 0), exits: all, firstFailure, stoppedBy };
}

/** "rank 1 exited with code 3" / "rank 2 was killed by SIGKILL". */
export function describeExit(e: WorkerExit): string {
  return e.signal ? `rank ${e.rank} was killed by ${e.signal}` : `rank ${e.rank} exited with code ${e.code}`;
}
