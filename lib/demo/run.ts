// runDemo: the three comparisons of the Squisher paper at small scale, on MNIST, in one call.
import { FULL, QUICK, DemoConfig } from './config';
import { DemoDeps, Dataset } from './deps';
import { Ctx, DemoProgress } from './experiments/context';
import { mainRun, MainResult } from './experiments/main-run';
import { merging, MergeResult } from './experiments/merging';
import { splitMnist, SplitResult } from './experiments/split-mnist';
import { dispose } from '../tensor';

export interface DemoOptions {
  quick?: boolean;
  /** Override any size (tests, experiments). */
  config?: Partial<DemoConfig>;
  device?: string;
  /** Where to write the Squisher-vs-Fisher scatter plot (SVG); null for none. */
  plotFile?: string | null;
  onProgress?: (p: DemoProgress) => void;
  signal?: AbortSignal;
}

export interface DemoResult {
  config: DemoConfig;
  device: string;
  main: MainResult;
  split: SplitResult;
  merge: MergeResult;
  plotFile: string | null;
  seconds: { total: number; main: number; split: number; merge: number };
}

export async function runDemo(deps: DemoDeps, o: DemoOptions = {}): Promise<DemoResult> {
  const cfg: DemoConfig = { ...(o.quick ? QUICK : FULL), ...(o.config ?? {}) };
  const device = o.device ?? 'cpu';
  const t0 = Date.now();
  const need = Math.max(cfg.trainN, cfg.mergeBaseN, 5 * cfg.ewcPerTask * 1.3, 2 * cfg.mergeFinetuneN * 1.3);
  const load = (split: 'train' | 'test', n: number): Dataset => {
    const d = deps.mnist(split, Math.min(n, split === 'train' ? 60000 : 10000));
    if (device === 'cpu') return d;
    const moved = { x: d.x.to(device), y: d.y.to(device) };
    dispose(d);
    return moved;
  };
  const train = load('train', Math.ceil(need));
  const test = load('test', cfg.testN);
  const ctx: Ctx = { cfg, device, deps, train, test, progress: (p) => o.onProgress?.(p), signal: o.signal };
  try {
    const t1 = Date.now();
    const main = await mainRun(ctx, o.plotFile ?? null);
    const t2 = Date.now();
    const split = await splitMnist(ctx);
    const t3 = Date.now();
    const merge = await merging(ctx);
    const t4 = Date.now();
    return {
      config: cfg, device, main, split, merge, plotFile: o.plotFile ?? null,
      seconds: { total: (t4 - t0) / 1000, main: (t2 - t1) / 1000, split: (t3 - t2) / 1000, merge: (t4 - t3) / 1000 },
    };
  } finally {
    dispose(train); dispose(test);
  }
}
