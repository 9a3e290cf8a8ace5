// The Squisher of a Hugging Face Trainer run, from its checkpoint-N/ folder as the Trainer saves it:
// optimizer.pt (its two decay / no-decay groups), the model's weights (pytorch_model.bin keeps the
// model's order; model.safetensors, what transformers 5 writes, and shard indexes do not: then the order
// must be given with paramNames), trainer_state.json (train_batch_size = per-device batch x DataParallel
// GPUs, global_step), training_args.bin (gradient_accumulation_steps and the number of processes, read as
// inert data: its classes are allowed by name and nothing in it is called) and config.json (recorded). The Trainer's grouping convention applies when the shapes alone allow more
// than one mapping: a folder with trainer_state.json is evidence that the Trainer built the optimizer.
import * as fs from 'fs';
import * as path from 'path';
import { CheckpointError } from '../../errors';
import { load } from '../../io';
import { FisherDiagonal } from '../result';
import { squisher, SquisherOptions, SQUISHER_OPTIONS } from '../squisher';
import { checkOptions, optionKeys, pickOptions } from '../../options';

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
  /** From training_args.bin, when it could be read. */
  gradientAccumulationSteps?: number;
  numProcesses?: number;
  /** Why training_args.bin could not be used (then B is train_batch_size alone). */
  argsNote?: string;
}

/**
 * The classes a Trainer's training_args.bin pickles (transformers 4.4x-5.x, accelerate 1.x). They are read as
 * inert data (lib/io allowGlobals): their names are allowed, nothing named in the file is constructed or run.
 */
export const TRAINING_ARGS_GLOBALS = [
  'transformers.training_args.TrainingArguments', 'transformers.training_args.OptimizerNames',
  'transformers.trainer_utils.SchedulerType', 'transformers.trainer_utils.IntervalStrategy',
  'transformers.trainer_utils.SaveStrategy', 'transformers.trainer_utils.HubStrategy',
  'transformers.trainer_utils.FSDPOption', 'transformers.debug_utils.DebugOption',
  'transformers.trainer_pt_utils.AcceleratorConfig', 'accelerate.state.PartialState',
  'accelerate.utils.dataclasses.DistributedType',
];

function attrs(v: unknown): Map<unknown, unknown> | null {
  const a = (v as { attrs?: unknown } | null)?.attrs;
  return a instanceof Map ? a : null;
}

function trainingArgs(file: string): Pick<TrainerCheckpoint, 'gradientAccumulationSteps' | 'numProcesses' | 'argsNote'> {
  let args: Map<unknown, unknown> | null;
  try {
    args = attrs(load(file, { allowGlobals: TRAINING_ARGS_GLOBALS }));
  } catch (e) {
    return { argsNote: `training_args.bin not read (${(e as Error).message.split('\n')[0].slice(0, 160)})` };
  }
  const ga = args?.get('gradient_accumulation_steps');
  if (typeof ga !== 'number' || !(ga >= 1)) return { argsNote: 'training_args.bin has no gradient_accumulation_steps' };
  const np = attrs(args!.get('distributed_state'))?.get('num_processes');
  return { gradientAccumulationSteps: ga, ...(typeof np === 'number' && np >= 1 ? { numProcesses: np } : { argsNote: 'training_args.bin does not record the number of processes' }) };
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
  // (a shard index gives names and shapes, no order: paramNames is needed then, as for model.safetensors)
  const model = ['pytorch_model.bin', 'model.safetensors', 'pytorch_model.bin.index.json', 'model.safetensors.index.json'].map(at).find((f) => fs.existsSync(f));
  if (!model) throw new CheckpointError(dir, 'has no model weights (pytorch_model.bin, model.safetensors or a shard index)');
  const out: TrainerCheckpoint = { dir, optimizer, model };
  if (fs.existsSync(at('trainer_state.json'))) {
    const st = readJson(at('trainer_state.json'));
    if (typeof st.train_batch_size === 'number') out.trainBatchSize = st.train_batch_size;
    if (typeof st.global_step === 'number') out.globalStep = st.global_step;
  } else {
    throw new CheckpointError(dir, 'has no trainer_state.json: not a Trainer checkpoint folder (use --optimizer and --model)');
  }
  if (fs.existsSync(at('training_args.bin'))) Object.assign(out, trainingArgs(at('training_args.bin')));
  else out.argsNote = 'no training_args.bin';
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
const TRAINER_DIR_OPTIONS = optionKeys<TrainerDirOptions>('squisherFromTrainerDir', {
  batchSize: true, datasetSize: true, biasCorrection: true, useMax: true, paramNames: true, paramNamesLabel: true,
  convention: true, preferConvention: true, optimizerIndex: true, allowGlobals: true, model: true,
});

/**
 * The Squisher of a Trainer checkpoint folder. B defaults to the examples behind one optimizer step:
 * trainer_state.json's train_batch_size x gradient_accumulation_steps x processes (from training_args.bin;
 * the loss the Trainer differentiates is the mean over all of them). When the shapes allow several
 * mappings, the Trainer's grouping decides (preferConvention 'hf-trainer').
 */
export function squisherFromTrainerDir(dir: string, o: TrainerDirOptions = {}): FisherDiagonal {
  checkOptions('squisherFromTrainerDir', o, TRAINER_DIR_OPTIONS);
  const ck = trainerCheckpoint(dir);
  const batchSize = o.batchSize ?? (ck.trainBatchSize !== undefined ? ck.trainBatchSize * (ck.gradientAccumulationSteps ?? 1) * (ck.numProcesses ?? 1) : undefined);
  const F = squisher({ file: ck.optimizer, model: o.model ?? ck.model }, { ...pickOptions(o, SQUISHER_OPTIONS), batchSize, preferConvention: o.preferConvention ?? 'hf-trainer' });
  Object.assign(F.meta, {
    trainerDir: dir,
    ...(o.batchSize === undefined && ck.trainBatchSize !== undefined ? {
      batchSizeFrom: `trainer_state.json train_batch_size ${ck.trainBatchSize}` +
        (ck.gradientAccumulationSteps !== undefined ? ` x training_args.bin gradient_accumulation_steps ${ck.gradientAccumulationSteps}` : '') +
        (ck.numProcesses !== undefined ? ` x processes ${ck.numProcesses}` : '') + (ck.argsNote ? ` (${ck.argsNote})` : ''),
    } : {}),
    ...(ck.gradientAccumulationSteps !== undefined ? { gradientAccumulationSteps: ck.gradientAccumulationSteps } : {}),
    ...(ck.globalStep !== undefined ? { globalStep: ck.globalStep } : {}),
    ...(ck.modelType ? { modelType: ck.modelType } : {}),
    ...(ck.architectures ? { architectures: ck.architectures.join(',') } : {}),
  });
  return F;
}
