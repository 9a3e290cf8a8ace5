// `squisher merge M1 M2 ... [--fisher F1 F2 ...] [--weights w1 w2 ...] [--floor 1e-6] [--normalize]
//  [--method average|fisher|gradient-matching --base B0 --prior-precision d] --out OUT`: merges checkpoints one
// tensor at a time (safetensors inputs are read tensor by tensor) with a progress bar.
import { Command } from 'commander';
import { fileSource, mergeModels, MergeMethod } from '../../apps';
import { checkOutput, writeTensors } from '../../apps/files';
import { CheckpointError, OptionError } from '../../errors';
import { dispose } from '../../tensor';
import { progress } from '../progress';
import { allowGlobalOption } from '../allow-global';

interface MergeCli {
  fisher?: string[]; weights?: string[]; floor: string; normalize?: boolean; method?: MergeMethod;
  base?: string; baseFisher?: string; priorPrecision?: string; out: string; overwrite?: boolean; allowGlobal?: string[];
}

export function registerMerge(program: Command): void {
  allowGlobalOption(program
    .command('merge <models...>'))
    .description('merge models: Fisher-weighted averaging (default with --fisher), plain averaging, or gradient matching')
    .option('--fisher <files...>', 'one Fisher diagonal per model, in the same order')
    .option('--weights <w...>', 'per-model weights λ_i (default all 1)')
    .option('--floor <f>', 'Fisher floor', '1e-6')
    .option('--normalize', 'divide each Fisher by its global L2 norm first')
    .option('--method <m>', 'average | fisher | gradient-matching (default: fisher with --fisher, else average)')
    .option('--base <file>', 'gradient-matching: the common ancestor θ0')
    .option('--base-fisher <file>', 'gradient-matching: the ancestor\'s Fisher F0')
    .option('--prior-precision <d>', 'gradient-matching: a scalar F0 instead of --base-fisher', '0')
    .requiredOption('--out <file>', 'output checkpoint (.safetensors, or .pt/.pth/.bin for torch.save)')
    .option('--overwrite', 'replace OUT if it exists')
    .action(async (models: string[], o: MergeCli) => {
      const method: MergeMethod = o.method ?? (o.fisher ? 'fisher' : 'average');
      if (!['average', 'fisher', 'gradient-matching'].includes(method)) throw new OptionError(`--method must be average, fisher or gradient-matching, got '${method}'`);
      if (method !== 'average' && !o.fisher) throw new OptionError(`--method ${method} needs --fisher, one file per model`);
      if (method === 'average' && o.fisher) throw new OptionError('--method average takes no --fisher');
      if (models.length < 2) throw new OptionError('merge needs at least two models');
      const weights = o.weights?.map((w) => {
        const v = Number(w);
        if (!Number.isFinite(v)) throw new OptionError(`--weights: '${w}' is not a number`);
        return v;
      });
      const floor = Number(o.floor);
      if (!(floor >= 0)) throw new OptionError(`--floor must be a number ≥ 0, got '${o.floor}'`);
      checkOutput(o.out, [...models, ...(o.fisher ?? []), ...(o.base ? [o.base] : []), ...(o.baseFisher ? [o.baseFisher] : [])]);
      const source = (f: string) => fileSource(f, { allowGlobals: o.allowGlobal });
      const bar = progress('merge');
      try {
        const r = await mergeModels(models.map(source), o.fisher ? o.fisher.map(source) : null, {
          method, weights, floor, normalize: !!o.normalize,
          base: o.base ? source(o.base) : undefined,
          baseFisher: o.baseFisher ? source(o.baseFisher) : Number(o.priorPrecision),
          onProgress: (p) => bar.update(p.done, p.total, p.name),
        });
        bar.stop();
        // Fisher names that match none of the models' floating tensors would make a "Fisher merge" a plain
        // average without a word: refused before anything is written.
        const floating = r.merged.size - r.copied.length;
        if (o.fisher && floating > 0 && r.averagedOnly.length === floating) {
          dispose(r.merged);
          throw new CheckpointError(o.fisher[0], `no Fisher tensor name matches the models' tensors (models have e.g. ` +
            `'${r.averagedOnly[0]}'); a --fisher merge would be a plain average, so nothing was written`);
        }
        if (r.aliases.length) {
          console.error(`note: tied names merged once: ${r.aliases.map(([a, c]) => `${a} = ${c}`).join(', ')}` +
            (/\.safetensors$/i.test(o.out) ? ' (safetensors cannot share storage: written as equal copies; a .pt output keeps them tied)' : ''));
        }
        try {
          writeTensors(o.out, r.merged, { overwrite: !!o.overwrite, metadata: { 'squisher.merged': JSON.stringify({ method, models: models.length, weights: weights ?? null, floor, normalize: !!o.normalize }) } });
        } finally { dispose(r.merged); }
        console.log(`${o.out}: merged ${r.merged.size} tensors from ${models.length} models (${method})`);
        if (r.averagedOnly.length) console.error(`note: ${r.averagedOnly.length} tensors had no Fisher in every model and were averaged: ${r.averagedOnly.slice(0, 8).join(', ')}${r.averagedOnly.length > 8 ? ', ...' : ''}`);
        if (r.copied.length) console.error(`note: ${r.copied.length} integer tensors copied from the first model: ${r.copied.slice(0, 8).join(', ')}`);
      } finally { bar.stop(); }
    });
}
