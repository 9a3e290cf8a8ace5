// `squisher fisher --model M.pt --data D --variant empirical|mc|exact|batched --out F.safetensors`: a Fisher
// diagonal of a TorchScript model over data D (tensors x and y, safetensors or torch.save), with a
// progress bar; Ctrl-C cancels without leaving a partial file.
import * as fs from 'fs';
import * as path from 'path';
import { Command } from 'commander';
import { resolveDevice } from '../../device';
import { fisherDiagonal } from '../../fisher';
import { FisherVariant, Reduction } from '../../fisher/result';
import { checkpointFormat, flattenTensors, load } from '../../io';
import { ScriptModule } from '../../nn/script';
import { Tensor } from '../../tensor/tensor';
import { dispose } from '../../tensor/scope';
import { progress } from '../progress';
import { nprocOption, optionsToArgs, runLocalWorkers } from '../../distributed/cli';
import { safetensorsFolder, SafetensorsFolder } from '../../distributed/shard';
import { AbortError, CheckpointError, OptionError, ShapeError } from '../../errors';
import { allowGlobalOption } from '../allow-global';

// Shared with the squisher and compare commands.
/** OUT must be .safetensors, not one of the inputs, and new unless --overwrite: checked before any work. */
export function checkNewOutput(out: string, inputs: string[], overwrite: boolean): void {
  if (!/\.safetensors$/i.test(out)) throw new OptionError(`${out}: the output must be a .safetensors file (the metadata lives in its header)`);
  const o = path.resolve(out);
  for (const i of inputs) if (path.resolve(i) === o) throw new OptionError(`${out} is also an input; write the result to a new file`);
  for (const i of inputs) if (!fs.existsSync(i)) throw new CheckpointError(i, 'no such file');
  if (!overwrite && fs.existsSync(o)) throw new OptionError(`${out} exists; pass --overwrite to replace it`);
}

export function intOption(v: string, name: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new OptionError(`${name} must be a non-negative integer, got '${v}'`);
  return n;
}

interface FisherCli {
  model: string; data: string; variant: FisherVariant; samples?: string; reduction: Reduction; device?: string;
  task?: string; batchSize: string; seed?: string; engine: string; out: string; overwrite?: boolean; json?: boolean;
  nprocPerNode?: string; distributed?: boolean; backend: 'gloo' | 'nccl'; timeoutMs: string;
  output?: string; shift?: boolean; allowGlobal?: string[];
}

/** x and y from a safetensors or torch.save file, named in errors; allowGlobals as load()'s (--allow-global). */
export function readXY(file: string, allowGlobals?: readonly string[]): { x: Tensor; y: Tensor } {
  const tree = load(file, { allowGlobals });
  const all = flattenTensors(tree);
  const x = all.get('x'), y = all.get('y');
  if (!x || !y) {
    dispose(all);
    throw new CheckpointError(file, `needs tensors 'x' (inputs) and 'y' (targets); found ${[...all.keys()].slice(0, 8).join(', ') || 'no tensors'}`);
  }
  for (const [k, t] of all) if (t !== x && t !== y) t.dispose();
  if (x.shape[0] !== y.shape[0]) throw new ShapeError(`${file}: x has ${x.shape[0]} rows but y has ${y.shape[0]}`);
  return { x, y };
}

/** --output: an index (digits) or a dict key. */
function outputOption(v: string | undefined): number | string | undefined {
  if (v === undefined) return undefined;
  return /^\d+$/.test(v) ? Number(v) : v;
}

export function loadScripted(file: string, device: string): ScriptModule {
  const fmt = checkpointFormat(file);
  if (fmt !== 'torchscript') {
    throw new CheckpointError(file, 'the model must be a TorchScript archive (torch.jit.save / torch.jit.script(model).save); ' +
      `this is a ${fmt} file, which holds weights but no architecture to run`);
  }
  return ScriptModule.load(file, { device });
}

export function registerFisher(program: Command): void {
  allowGlobalOption(program
    .command('fisher'))
    .description('compute a Fisher information diagonal of a TorchScript model over a data set')
    .requiredOption('--model <file>', 'TorchScript model (torch.jit.save)')
    .requiredOption('--data <file>', "tensors 'x' and 'y' (safetensors or torch.save)")
    .option('--variant <v>', 'empirical | mc | exact | batched', 'empirical')
    .option('--samples <k>', 'mc: labels sampled per example', '1')
    .option('--reduction <r>', 'sum | mean (over examples)', 'sum')
    .option('--task <t>', 'classification | regression (default: classification for integer y, else regression)')
    .option('--device <d>', 'cpu | cuda | cuda:N (default: cuda when available)')
    .option('--batch-size <n>', 'examples per pass (batched: the mini-batch whose gradient is squared)', '64')
    .option('--seed <n>', 'mc: random seed')
    .option('--engine <e>', 'auto | fast | vmap', 'auto')
    .option('--output <i|key>', 'the model returns a tuple/list or dict: the index or key of the logits (default: first, or logits)')
    .option('--shift', 'causal LM: logits[:, :-1] predict labels[:, 1:] (y holds the input ids / labels [N, T], -100 ignored)')
    .requiredOption('--out <file>', 'output .safetensors (metadata in __metadata__)')
    .option('--overwrite', 'replace OUT if it exists')
    .option('--json', 'print a JSON summary')
    .option('--nproc-per-node <n>', 'data-parallel: run N local workers (torchrun-style) and all-reduce their sums')
    .option('--distributed', 'run as one rank of a group described by RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT (torchrun)')
    .option('--backend <b>', 'distributed: gloo (CPU) | nccl (CUDA, one GPU per rank)', 'gloo')
    .option('--timeout-ms <ms>', 'distributed: rendezvous and collective timeout', '300000')
    .action(async (o: FisherCli) => {
      checkNewOutput(o.out, [o.model, o.data], !!o.overwrite);
      if (o.nprocPerNode !== undefined) return runLocalWorkers(nprocOption(o.nprocPerNode), ['fisher', ...optionsToArgs({ ...o }, ['nprocPerNode', 'distributed'])]);
      const rank = o.distributed ? Number(process.env.RANK) : 0;
      const device = o.distributed && o.backend === 'nccl' ? `cuda:${process.env.LOCAL_RANK ?? 0}` : resolveDevice(o.device);
      const model = loadScripted(o.model, device);
      const folder = fs.statSync(o.data).isDirectory();
      const { x, y } = folder ? { x: null, y: null } : readXY(o.data, o.allowGlobal);
      const data = folder ? safetensorsFolder(o.data, { batchSize: intOption(o.batchSize, '--batch-size') }) : { x: x!, y: y! };
      const yDtype = data instanceof SafetensorsFolder ? data.yDtype : data.y.dtype;
      const task = o.task ?? (['float32', 'float64', 'float16', 'bfloat16'].includes(String(yDtype)) ? 'regression' : 'classification');
      const ac = new AbortController();
      const onInt = (): void => ac.abort(new AbortError('interrupted: nothing was written'));
      process.once('SIGINT', onInt);
      if (o.distributed) process.once('SIGTERM', onInt);
      const bar = progress(o.distributed ? `fisher (${o.variant}, rank ${rank})` : `fisher (${o.variant})`);
      try {
        const F = await fisherDiagonal(model, data, {
          variant: o.variant, task: task as any, reduction: o.reduction, device,
          samples: intOption(o.samples!, '--samples'), batchSize: intOption(o.batchSize, '--batch-size'),
          seed: o.seed !== undefined ? intOption(o.seed, '--seed') : undefined, engine: o.engine as any,
          ...(o.distributed ? { distributed: { backend: o.backend, timeoutMs: intOption(o.timeoutMs, '--timeout-ms') } } : {}),
          onProgress: (p) => bar.update(p.done, p.total ?? p.done, 'examples'), signal: ac.signal,
          output: outputOption(o.output), shift: !!o.shift,
        });
        bar.stop();
        F.meta.model = o.model;
        // Distributed: every rank holds the all-reduced result; rank 0 writes it.
        if (rank !== 0) { F.dispose(); return; }
        F.save(o.out, { overwrite: !!o.overwrite });
        const summary = { out: o.out, ...F.meta, tensors: F.size, total: F.total() };
        if (o.json) console.log(JSON.stringify(summary));
        else console.log(`${o.out}: ${o.variant} Fisher (${task}, ${o.reduction} over N=${F.meta.N}) of ${F.size} tensors, engine ${F.meta.engine}, total ${summary.total.toPrecision(6)}`);
        F.dispose();
      } finally {
        bar.stop();
        process.removeListener('SIGINT', onInt);
        process.removeListener('SIGTERM', onInt);
        x?.dispose(); y?.dispose();
      }
    });
}
