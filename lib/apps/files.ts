// Reading and writing the tensors the application CLIs take and produce, through lib/io: the output
// format follows the file extension (.safetensors, or .pt/.pth/.bin as a torch.save state_dict), writes are
// atomic, and an input file is never the output.
import * as path from 'path';
import { loadStateDict, saveSafetensors, saveStateDict, TensorMap } from '../io';
import { Tensor } from '../tensor';
import { OptionError, SquisherError } from '../errors';
import { checkOptions, optionKeys } from '../options';

/** allowGlobals: Python globals read as inert data (load()'s option; CLI --allow-global). */
export function readTensors(file: string, what: string, o: { allowGlobals?: readonly string[] } = {}): Map<string, Tensor> {
  try {
    return loadStateDict(file, { allowGlobals: o.allowGlobals });
  } catch (e) {
    const msg = (e as Error).message;
    // A typed error that already names the file passes through unchanged (its class and status stay).
    if (e instanceof SquisherError && msg.includes(file)) throw e;
    throw new Error(msg.includes(file) ? msg : `${what} ${file}: ${msg}`, { cause: e });
  }
}

/** Metadata of a safetensors file read by readTensors (empty for other formats). */
export function metadataOf(m: Map<string, Tensor>): Record<string, string> {
  return m instanceof TensorMap ? m.metadata : {};
}

export function checkOutput(out: string, inputs: string[]): void {
  if (!/\.(safetensors|pt|pth|bin)$/i.test(out)) throw new OptionError(`${out}: unknown output format (use .safetensors, or .pt/.pth/.bin for torch.save)`);
  const o = path.resolve(out);
  for (const i of inputs) if (path.resolve(i) === o) throw new OptionError(`${out} is also an input; write the result to a new file`);
}

export interface WriteTensorsOptions { overwrite?: boolean; metadata?: Record<string, string>; }
const WRITE_TENSORS_OPTIONS = optionKeys<WriteTensorsOptions>('writeTensors', { overwrite: true, metadata: true });

export function writeTensors(out: string, tensors: Map<string, Tensor>, o: WriteTensorsOptions = {}): void {
  checkOptions('writeTensors', o, WRITE_TENSORS_OPTIONS);
  if (/\.safetensors$/i.test(out)) saveSafetensors(out, tensors, { overwrite: o.overwrite, metadata: { format: 'pt', ...(o.metadata ?? {}) } });
  else saveStateDict(out, tensors, { overwrite: o.overwrite });
}
