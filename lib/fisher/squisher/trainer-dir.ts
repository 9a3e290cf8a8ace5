// The Squisher of a Hugging Face Trainer run, from its checkpoint-N/ folder as the Trainer saves it:
// optimizer.pt (its two decay / no-decay groups), the model's weights (pytorch_model.bin keeps the
// model's order; model.safetensors, what transformers 5 writes, does not: then the order must be given
// with paramNames), trainer_state.json (train_batch_size = B per device x devices, global_step) and
// config.json (recorded). The Trainer's grouping convention applies when the shapes alone allow more
// than one mapping: a folder with trainer_state.json is evidence that the Trainer built the optimizer.
import * as fs from 'fs';
import * as path from 'path';
import { CheckpointError } from '../../errors';
import { FisherDiagonal } from '../result';
import { squisher, SquisherOptions } from '../squisher';

export interface TrainerCheckpoint {
  dir: string;
  optimizer: string;
  /** The weights file used for names/shapes (and order, when it has one). */
  model: string;
  /** trainer_state.json's train_batch_size (per-device batch x devices), if recorded. */
  trainBatchSize?: number;
  globalStep?: number;
  modelType?: string;
  architectures?: string[];
}

function readJson(file: string): Record<string, unknown> {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new CheckpointError(file, `cannot read it as JSON: ${(e as Error).message}`);
  }
}

/** Finds the files of a Trainer checkpoint folder; a missing piece is a CheckpointError naming it. */
export function trainerCheckpoint(dir: string): TrainerCheckpoint {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new CheckpointError(dir, 'not a folder (expected a Trainer checkpoint-N/ folder)');
  const at = (f: string) => path.join(dir, f);
  const optimizer = at('optimizer.pt');
  if (!fs.existsSync(optimizer)) throw new CheckpointError(dir, 'has no optimizer.pt: was the run saved with save_only_model=True?');
  // pytorch_model.bin first: a torch.save state_dict keeps the model's parameter order
  const model = ['pytorch_model.bin', 'model.safetensors'].map(at).find((f) => fs.existsSync(f));
  if (!model) {
    const index = ['model.safetensors.index.json', 'pytorch_model.bin.index.json'].find((f) => fs.existsSync(at(f)));
    throw new CheckpointError(dir, index ? `holds sharded weights (${index}): pass the model with --model (or the API's model option)`
      : 'has no model weights (pytorch_model.bin or model.safetensors)');
  }
  const out: TrainerCheckpoint = { dir, optimizer, model };
  if (fs.existsSync(at('trainer_state.json'))) {
    const st = readJson(at('trainer_state.json'));
    if (typeof st.train_batch_size === 'number') out.trainBatchSize = st.train_batch_size;
    if (typeof st.global_step === 'number') out.globalStep = st.global_step;
  } else {
    throw new CheckpointError(dir, 'has no trainer_state.json: not a Trainer checkpoint folder (use --optimizer and --model)');
  }
  if (fs.existsSync(at('config.json'))) {
    const c = readJson(at('config.json'));
    if (typeof c.model_type === 'string') out.modelType = c.model_type;
    if (Array.isArray(c.architectures)) out.architectures = c.architectures.map(String);
  }
  return out;
}

export interface TrainerDirOptions extends SquisherOptions {
  /** A model file to use instead of the folder's weights (e.g. a torch.save state_dict, for the order). */
  model?: string;
}

/**
 * The Squisher of a Trainer checkpoint folder. B defaults to trainer_state.json's train_batch_size (the
 * Trainer does not record gradient accumulation there: with accumulation, pass batchSize = per-step
 * batch x accumulation steps). When the shapes allow several mappings, the Trainer's
 * grouping decides (preferConvention 'hf-trainer').
 */
export function squisherFromTrainerDir(dir: string, o: TrainerDirOptions = {}): FisherDiagonal {
  const ck = trainerCheckpoint(dir);
  const batchSize = o.batchSize ?? ck.trainBatchSize;
  const F = squisher({ file: ck.optimizer, model: o.model ?? ck.model }, { ...o, batchSize, preferConvention: o.preferConvention ?? 'hf-trainer' });
  Object.assign(F.meta, {
    trainerDir: dir,
    ...(o.batchSize === undefined && ck.trainBatchSize !== undefined ? { batchSizeFrom: 'trainer_state.json train_batch_size (gradient accumulation not recorded)' } : {}),
    ...(ck.globalStep !== undefined ? { globalStep: ck.globalStep } : {}),
    ...(ck.modelType ? { modelType: ck.modelType } : {}),
    ...(ck.architectures ? { architectures: ck.architectures.join(',') } : {}),
  });
  return F;
}
