// `squisher squisher --optimizer OPT.pt --model M [--batch-size B] [--dataset-size N] [--bias-correction]
//  --out F.safetensors`: the Squisher from a PyTorch Adam/AdamW state_dict, by parameter name.
import { Command } from 'commander';
import { squisher } from '../../fisher';
import { checkpointFormat, loadStateDict, loadTorchScriptParameters } from '../../io';
import { Tensor } from '../../tensor/tensor';
import { checkNewOutput, intOption } from './fisher';

interface SquisherCli { optimizer: string; model: string; batchSize?: string; datasetSize?: string; biasCorrection?: boolean; amsgrad?: boolean; out: string; overwrite?: boolean; json?: boolean; }

// BatchNorm's buffers sit between parameters in a state_dict; the optimizer only saw parameters.
const BUFFER = /(^|\.)(running_mean|running_var|num_batches_tracked)$/;

/** Parameter names and shapes in order: exact from a TorchScript model; from a state_dict, its non-buffer entries. */
function paramsFrom(file: string): { namedParameters(): [string, Tensor][]; dispose(): void } {
  if (checkpointFormat(file) === 'torchscript') {
    // Parsed from the archive, not run: only the names and shapes are needed (lib/io/torchscript.ts).
    const ps = loadTorchScriptParameters(file);
    return { namedParameters: () => [...ps], dispose: () => { for (const t of ps.values()) t.dispose(); } };
  }
  const sd = loadStateDict(file);
  const list = [...sd].filter(([n, t]) => !BUFFER.test(n) && ['float32', 'float64', 'float16', 'bfloat16'].includes(t.dtype));
  return { namedParameters: () => list, dispose: () => { for (const t of sd.values()) t.dispose(); } };
}

export function registerSquisher(program: Command): void {
  program
    .command('squisher')
    .description("the Squisher: a Fisher diagonal from Adam's exp_avg_sq, no data needed (Li et al., ICML 2025)")
    .requiredOption('--optimizer <file>', 'optimizer state_dict (torch.save of Adam/AdamW, or a training checkpoint holding one)')
    .requiredOption('--model <file>', "the model, for parameter names in the optimizer's order: TorchScript, or its state_dict")
    .option('--batch-size <B>', 'training batch size: output B·v (the paper\'s Squisher)')
    .option('--dataset-size <N>', 'data set size: output N·B·v (a Fisher summed over N examples, e.g. for EWC)')
    .option('--bias-correction', 'divide by 1 - beta2^step')
    .option('--amsgrad', 'use max_exp_avg_sq (optimizers run with amsgrad=True)')
    .requiredOption('--out <file>', 'output .safetensors (metadata records the factors)')
    .option('--overwrite', 'replace OUT if it exists')
    .option('--json', 'print a JSON summary')
    .action((o: SquisherCli) => {
      checkNewOutput(o.out, [o.optimizer, o.model], !!o.overwrite);
      const model = paramsFrom(o.model);
      try {
        const F = squisher({ file: o.optimizer, model }, {
          batchSize: o.batchSize !== undefined ? intOption(o.batchSize, '--batch-size') : undefined,
          datasetSize: o.datasetSize !== undefined ? intOption(o.datasetSize, '--dataset-size') : undefined,
          biasCorrection: !!o.biasCorrection, useMax: !!o.amsgrad,
        });
        F.save(o.out, { overwrite: !!o.overwrite });
        if (o.json) console.log(JSON.stringify({ out: o.out, ...F.meta, tensors: F.size }));
        else console.log(`${o.out}: Squisher ${F.meta.scale} (factor ${F.meta.factor}, ${F.meta.optimizer}, step ${F.meta.step}, beta2 ${F.meta.beta2}${o.biasCorrection ? ', bias-corrected' : ''}) for ${F.size} tensors`);
        F.dispose();
      } finally {
        model.dispose();
      }
    });
}
