// `squisher squisher --optimizer OPT.pt [--model M] [--param-names names.json] [--convention NAME]
//  [--batch-size B] [--dataset-size N] [--bias-correction] --out F.safetensors`, or `--trainer-dir
//  checkpoint-N/`: the Squisher from a saved optimizer (Adam/AdamW, Adagrad, RMSprop, Adafactor), by
// parameter name. The id -> name mapping is proven from the model's order and every shape, or refused
// (lib/fisher/squisher/mapping.ts); nothing is written when it is refused.
import * as fs from 'fs';
import { Command } from 'commander';
import { squisher } from '../../fisher';
import { OptionError } from '../../errors';
import { SquisherOptions } from '../../fisher/squisher';
import { squisherFromTrainerDir } from '../../fisher/squisher/trainer-dir';
import { CONVENTIONS } from '../../fisher/squisher/conventions';
import { checkNewOutput, intOption } from './fisher';
import { allowGlobalOption } from '../allow-global';

interface SquisherCli {
  optimizer?: string; model?: string; trainerDir?: string; paramNames?: string; convention?: string; optimizerIndex?: string;
  batchSize?: string; datasetSize?: string; biasCorrection?: boolean; amsgrad?: boolean; out: string; overwrite?: boolean; json?: boolean;
  allowGlobal?: string[];
}

/** names.json: a list (named_parameters() order) or {"groups": [[...], ...]} (each group's names in id order). */
function readNames(file: string): SquisherOptions['paramNames'] {
  let v: unknown;
  try {
    v = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new OptionError(`--param-names ${file}: cannot read it as JSON: ${(e as Error).message}`);
  }
  const strings = (x: unknown) => Array.isArray(x) && x.every((s) => typeof s === 'string');
  if (strings(v)) return v as string[];
  const g = (v as { groups?: unknown } | null)?.groups;
  if (Array.isArray(g) && g.every(strings)) return { groups: g as string[][] };
  throw new OptionError(`--param-names ${file}: expected a JSON list of names (named_parameters() order) or {"groups": [[names of group 0], ...]}`);
}

export function registerSquisher(program: Command): void {
  allowGlobalOption(program
    .command('squisher'))
    .description("the Squisher: a Fisher diagonal from an optimizer's squared-gradient average, no data needed (Li et al., ICML 2025)")
    .option('--optimizer <file>', 'optimizer state_dict (torch.save of Adam/AdamW, Adagrad, RMSprop or Adafactor; or a timm / Lightning checkpoint holding one)')
    .option('--model <file>', "the model, for names, shapes and order: TorchScript or a torch.save state_dict (ordered); safetensors gives no order (add --param-names)")
    .option('--trainer-dir <dir>', 'a Hugging Face Trainer checkpoint-N/ folder: optimizer.pt + weights + trainer_state.json (B from train_batch_size)')
    .option('--param-names <file>', 'JSON: the parameter names in named_parameters() order, or {"groups": [[...], ...]} in the optimizer\'s id order')
    .option('--convention <name>', `how the param groups were built, when the shapes allow several mappings: ${CONVENTIONS.map((c) => c.name).join(' | ')}`)
    .option('--optimizer-index <i>', "which optimizer of a Lightning checkpoint's optimizer_states")
    .option('--batch-size <B>', 'training batch size: output B·v (the paper\'s Squisher); with --trainer-dir, overrides train_batch_size x gradient accumulation x processes')
    .option('--dataset-size <N>', 'data set size: output N·B·v (a Fisher summed over N examples, e.g. for EWC)')
    .option('--bias-correction', 'divide by 1 - beta2^step (Adam; RMSprop: 1 - alpha^step)')
    .option('--amsgrad', 'use max_exp_avg_sq (optimizers run with amsgrad=True)')
    .requiredOption('--out <file>', 'output .safetensors (metadata records the factors, groups and how the names were mapped)')
    .option('--overwrite', 'replace OUT if it exists')
    .option('--json', 'print a JSON summary')
    .action((o: SquisherCli) => {
      if (!o.optimizer && !o.trainerDir) throw new OptionError('squisher needs --optimizer FILE (with --model, unless the checkpoint holds the weights) or --trainer-dir DIR');
      if (o.optimizer && o.trainerDir) throw new OptionError('give --optimizer or --trainer-dir, not both');
      checkNewOutput(o.out, [o.optimizer, o.model, o.paramNames].filter((x): x is string => !!x), !!o.overwrite);
      const opts: SquisherOptions = {
        batchSize: o.batchSize !== undefined ? intOption(o.batchSize, '--batch-size') : undefined,
        datasetSize: o.datasetSize !== undefined ? intOption(o.datasetSize, '--dataset-size') : undefined,
        biasCorrection: !!o.biasCorrection, useMax: !!o.amsgrad, convention: o.convention,
        paramNames: o.paramNames ? readNames(o.paramNames) : undefined, paramNamesLabel: o.paramNames,
        optimizerIndex: o.optimizerIndex !== undefined ? Number(o.optimizerIndex) : undefined,
        allowGlobals: o.allowGlobal,
      };
      const F = o.trainerDir ? squisherFromTrainerDir(o.trainerDir, { ...opts, model: o.model })
        : squisher({ file: o.optimizer!, model: o.model }, opts);
      try {
        F.save(o.out, { overwrite: !!o.overwrite });
        if (o.json) console.log(JSON.stringify({ out: o.out, ...F.meta, tensors: F.size }));
        else {
          const m = F.meta;
          console.log(`${o.out}: Squisher ${m.scale} (factor ${m.factor ?? 'per tensor'}, ${m.optimizer}, step ${m.step}${m.beta2 !== undefined ? `, decay ${m.beta2}` : ''}${o.biasCorrection ? ', bias-corrected' : ''}) for ${F.size} tensors; names: ${m.mapping}`);
          if (m.aliases) console.log(`tied names (one tensor each): ${Object.entries(JSON.parse(String(m.aliases))).map(([a, c]) => `${a} = ${c}`).join(', ')}`);
          if (m.batchSizeFrom) console.error(`note: B = ${m.batchSize} from ${m.batchSizeFrom}; --batch-size overrides it`);
        }
      } finally {
        F.dispose();
      }
    });
}
