// Runs N Gloo ranks on 127.0.0.1 as child Node processes (through the launcher, as the CLI does) and
// collects what each printed: lines starting "RESULT " are JSON results, the rest is kept for messages.
import * as path from 'path';
import { launch, LaunchResult } from '../../lib/distributed/launcher';

export interface RankRun extends LaunchResult {
  results: any[];
  out: string[][];
}

export const WORKERS = path.join(__dirname, 'workers');

export async function runRanks(n: number, worker: string, args: string[] = [], o: { env?: NodeJS.ProcessEnv; graceMs?: number } = {}): Promise<RankRun> {
  const out: string[][] = Array.from({ length: n }, () => []);
  const results: any[] = new Array(n).fill(null);
  const r = await launch({
    nproc: n, args: [path.join(WORKERS, worker), ...args], env: o.env, graceMs: o.graceMs ?? 20_000, handleSignals: false,
    onLine: (rank, _stream, line) => {
      if (line.startsWith('RESULT ')) results[rank] = JSON.parse(line.slice(7));
      else out[rank].push(line);
    },
  });
  return { ...r, results, out };
}

export function allText(r: RankRun): string { return r.out.map((l, i) => l.map((s) => `[${i}] ${s}`).join('\n')).join('\n'); }
