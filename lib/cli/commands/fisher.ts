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

// Shared with the squisher and compare commands.
/** OUT must be .safetensors, not one of the inputs, and new unless --overwrite: checked before any work. */
export function checkNewOutput(out: string, inputs: string[], overwrite: boolean): void {
  if (!/\.safetensors$/i.test(out)) throw new Error(`${out}: the output must be a .safetensors file (the metadata lives in its header)`);
  const o = path.resolve(out);
  for (const i of inputs) if (path.resolve(i) === o) throw new Error(`${out} is also an input; write the result to a new file`);
  for (const i of inputs) if (!fs.existsSync(i)) throw new Error(`${i}: no such file`);
  if (!overwrite && fs.existsSync(o)) throw new Error(`${out} exists; pass --overwrite to replace it`);
}

export function intOption(v: string, name: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got '${v}'`);
  return n;
}

interface FisherCli {
  model: string; data: string; variant: FisherVariant; samples?: string; reduction: Reduction; device?: string;
  task?: string; batchSize: string; seed?: string; engine: string; out: string; overwrite?: boolean; json?: boolean;
}

/** x and y from a safetensors or torch.save file, named in errors. */
export function readXY(file: string): { x: Tensor; y: Tensor } {
  const tree = load(file);
  const all = flattenTensors(tree);
  const x = all.get('x'), y = all.get('y');
  if (!x || !y) {
    dispose(all);
    throw new Error(`${file}: needs tensors 'x' (inputs) and 'y' (targets); found ${[...all.keys()].slice(0, 8).join(', ') || 'no tensors'}`);
  }
  for (const [k, t] of all) if (t !== x && t !== y) t.dispose();
  if (x.shape[0] !== y.shape[0]) throw new Error(`${file}: x has ${x.shape[0]} rows but y has ${y.shape[0]}`);
  return { x, y };
}

export function loadScripted(file: string, device: string): ScriptModule {
  const fmt = checkpointFormat(file);
  if (fmt !== 'torchscript') {
    throw new Error(`${file}: the model must be a TorchScript archive (torch.jit.save / torch.jit.script(model).save); ` +
      `this is a ${fmt} file, which holds weights but no architecture to run`);
  }
  return ScriptModule.load(file, { device });
}

export function registerFisher(program: Command): void {
  program
    .command('fisher')
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
    .requiredOption('--out <file>', 'output .safetensors (metadata in __metadata__)')
    .option('--overwrite', 'replace OUT if it exists')
    .option('--json', 'print a JSON summary')
    .action(async (o: FisherCli) => {
      checkNewOutput(o.out, [o.model, o.data], !!o.overwrite);
      const device = resolveDevice(o.device);
      const model = loadScripted(o.model, device);
      const { x, y } = readXY(o.data);
      const task = o.task ?? (['float32', 'float64', 'float16', 'bfloat16'].includes(y.dtype) ? 'regression' : 'classification');
      const ac = new AbortController();
      const onInt = (): void => ac.abort(new Error('interrupted: nothing was written'));
      process.once('SIGINT', onInt);
      const bar = progress(`fisher (${o.variant})`);
      try {
        const F = await fisherDiagonal(model, { x, y }, {
          variant: o.variant, task: task as any, reduction: o.reduction, device,
          samples: intOption(o.samples!, '--samples'), batchSize: intOption(o.batchSize, '--batch-size'),
          seed: o.seed !== undefined ? intOption(o.seed, '--seed') : undefined, engine: o.engine as any,
          onProgress: (n, total) => bar.update(n, total ?? n, 'examples'), signal: ac.signal,
        });
        bar.stop();
        F.meta.model = o.model;
        F.save(o.out, { overwrite: !!o.overwrite });
        const summary = { out: o.out, ...F.meta, tensors: F.size, total: F.total() };
        if (o.json) console.log(JSON.stringify(summary));
        else console.log(`${o.out}: ${o.variant} Fisher (${task}, ${o.reduction} over N=${F.meta.N}) of ${F.size} tensors, engine ${F.meta.engine}, total ${summary.total.toPrecision(6)}`);
        F.dispose();
      } finally {
        bar.stop();
        process.removeListener('SIGINT', onInt);
        x.dispose(); y.dispose();
      }
    });
}
