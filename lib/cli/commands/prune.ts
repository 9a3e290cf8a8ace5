// `squisher prune --model M --fisher F --sparsity 0.75 [--method fisher|magnitude|random] [--scope global|layer]
//  --out OUT`: masks by saliency (OBD ½Fθ², |θ|, or random), zeroes the pruned weights, writes a checkpoint
// Python loads, and prints the sparsity of every pruned tensor. By default only Linear/Conv weights are
// pruned: by layer type for a TorchScript model, by the name rule of prunableByName for a state_dict.
// Tied names (one storage) are pruned and counted once and stay one storage in a torch.save output.
import { Command } from 'commander';
import { pruneMasks, applyMasks, sparsityReport, formatSparsity, storageAliases, describeAliases, PRUNABLE_LAYERS, PruneMethod, PruneScope } from '../../apps';
import { torchScriptLayerTypes } from '../../apps/layer-types';
import { checkpointFormat } from '../../io';
import { readTensors, writeTensors, checkOutput, metadataOf } from '../../apps/files';
import { dispose } from '../../tensor';
import { OptionError } from '../../errors';
import { allowGlobalOption } from '../allow-global';

interface PruneCli {
  model: string; fisher?: string; sparsity: string; method: PruneMethod; scope: PruneScope;
  prunable?: string; seed?: string; out: string; overwrite?: boolean; json?: boolean; allowGlobal?: string[];
}

export function registerPrune(program: Command): void {
  allowGlobalOption(program
    .command('prune'))
    .description('prune a checkpoint by Fisher saliency ½·F·θ² (OBD), magnitude or at random; write the pruned checkpoint')
    .requiredOption('--model <file>', 'the model: a state_dict (torch.save or .safetensors) or a TorchScript archive')
    .option('--fisher <file>', 'Fisher diagonal by parameter name (needed for --method fisher): from `squisher fisher`/`squisher squisher` or any checkpoint')
    .requiredOption('--sparsity <s>', 'fraction of the prunable weights to remove, in [0, 1]')
    .option('--method <m>', 'fisher | magnitude | random', 'fisher')
    .option('--scope <s>', 'global (one threshold) | layer (same sparsity per tensor)', 'global')
    .option('--prunable <regex>', 'names to prune (default: Linear/Conv weights; by layer type for TorchScript, else every *.weight with 2+ dims ' +
      'whose name has no embedding or norm segment: embed*, *embed, *embeddings, wte, wpe, shared, emb, *norm*, ln, ln_*, bn*)')
    .option('--seed <n>', 'seed for --method random')
    .requiredOption('--out <file>', 'output checkpoint (.safetensors, or .pt/.pth/.bin for torch.save)')
    .option('--overwrite', 'replace OUT if it exists')
    .option('--json', 'print the sparsity report as JSON')
    .action((o: PruneCli) => {
      const sparsity = Number(o.sparsity);
      if (!['fisher', 'magnitude', 'random'].includes(o.method)) throw new OptionError(`--method must be fisher, magnitude or random, got '${o.method}'`);
      if (!['global', 'layer'].includes(o.scope)) throw new OptionError(`--scope must be global or layer, got '${o.scope}'`);
      if (o.method === 'fisher' && !o.fisher) throw new OptionError('--method fisher needs --fisher F (or use --method magnitude|random)');
      checkOutput(o.out, [o.model, ...(o.fisher ? [o.fisher] : [])]);
      const model = readTensors(o.model, 'model', { allowGlobals: o.allowGlobal });
      const fisher = o.fisher ? readTensors(o.fisher, 'Fisher', { allowGlobals: o.allowGlobal }) : undefined;
      try {
        let prunable: string[] | undefined;
        let rule = 'Linear/Conv weights by the name rule (2+ dims, *.weight, no embedding or norm segment)';
        if (o.prunable) {
          const re = new RegExp(o.prunable);
          prunable = [...model.keys()].filter((n) => re.test(n));
          if (!prunable.length) throw new OptionError(`--prunable /${o.prunable}/ matches no tensor of ${o.model}`);
          rule = `--prunable /${o.prunable}/`;
        } else if (checkpointFormat(o.model) === 'torchscript') {
          // a TorchScript model knows its layer types (read from the archive, not run): Linear and Conv weights, exactly
          const types = torchScriptLayerTypes(o.model);
          prunable = [...model.keys()].filter((n) => n.endsWith('.weight') && PRUNABLE_LAYERS.has(types.get(n.slice(0, -'.weight'.length)) ?? ''));
          if (!prunable.length) throw new OptionError(`${o.model} has no Linear or Conv layer to prune (pass --prunable REGEX)`);
          rule = 'Linear/Conv weights by layer type';
        }
        const tied = storageAliases(model);
        const masks = pruneMasks(model, {
          sparsity, method: o.method, scope: o.scope, fisher, prunable,
          seed: o.seed !== undefined ? Number(o.seed) : undefined,
        });
        applyMasks(model, masks);
        const report = sparsityReport(model, [...masks.keys()]);
        writeTensors(o.out, model, {
          overwrite: !!o.overwrite,
          metadata: { ...metadataOf(model), 'squisher.pruned': JSON.stringify({ method: o.method, scope: o.scope, sparsity }) },
        });
        dispose(masks);
        if (o.json) console.log(JSON.stringify({ ...report, rule, pruned: report.layers.map((l) => l.name), tied: [...tied] }));
        else {
          console.log(`${o.out}: pruned ${report.zeros} of ${report.total} weights (${o.method}, ${o.scope}; ${rule})\n${formatSparsity(report)}`);
          if (tied.size) console.log(`tied names (one storage each, pruned and counted once): ${describeAliases(tied).join(', ')}`);
        }
        if (tied.size && /\.safetensors$/i.test(o.out)) {
          console.error(`note: safetensors cannot share storage: ${[...tied.keys()].join(', ')} written as equal copies (a .pt output keeps them tied)`);
        }
      } finally {
        dispose(model);
        if (fisher) dispose(fisher);
      }
    });
}
