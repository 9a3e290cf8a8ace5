// Bytes at a position of a Source -> a 1-d Tensor of a dtype. Files are read straight into the tensor
// (native pread, one copy); in-memory sources go without a second full-size copy in JS: small tensors are read into a reused scratch buffer and copied once into libtorch; big ones are
// copied in chunks into an empty uint8 tensor. Either way the bytes are then reinterpreted as the
// dtype (aten::view.dtype, no copy), so no typed-array alignment rules apply to file offsets.
import { DType, DTYPE_SIZE, Tensor, callOp, dtypeCode, empty, tensor } from '../tensor';
import { Source } from './source';

export const CHUNK = 64 << 20;

export interface Scratch { buf: Buffer | null }

function scratchOf(s: Scratch, n: number): Buffer {
  if (!s.buf || s.buf.length < n) s.buf = Buffer.allocUnsafe(Math.max(n, 1 << 20));
  return s.buf.subarray(0, n);
}

/** `nbytes` bytes at `pos` as a 1-d tensor of `dtype` (nbytes must be a multiple of its size). */
export function readTensorBytes(src: Source, pos: number, nbytes: number, dtype: DType, scratch: Scratch): Tensor {
  let t: Tensor;
  if (src.readTensor) {
    t = src.readTensor(pos, nbytes);
  } else if (nbytes <= CHUNK) {
    const b = src.read(pos, nbytes, scratchOf(scratch, nbytes));
    t = tensor(new Uint8Array(b.buffer, b.byteOffset, nbytes), { dtype: 'uint8' });
  } else {
    t = empty([nbytes], { dtype: 'uint8' });
    for (let p = 0; p < nbytes; p += CHUNK) {
      const n = Math.min(CHUNK, nbytes - p);
      const b = src.read(pos + p, n, scratchOf(scratch, n));
      const part = tensor(new Uint8Array(b.buffer, b.byteOffset, n), { dtype: 'uint8' });
      const dst = t.narrow(0, p, n);
      dst.copy_(part);
      dst.dispose();
      part.dispose();
    }
  }
  return bytesAs(t, dtype);
}

/** A uint8 tensor's bytes viewed as `dtype` (bool bytes are clamped to 0/1 first: libtorch assumes that). */
export function bytesAs(t: Tensor, dtype: DType): Tensor {
  if (dtype === 'bool') t.clamp_(0, 1);
  if (dtype === 'uint8') return t;
  if (t.numel % DTYPE_SIZE[dtype] !== 0) throw new RangeError(`${t.numel} bytes are not a whole number of ${dtype} elements`);
  const v = callOp('aten::view', 'dtype', t, dtypeCode(dtype)) as Tensor;
  t.dispose();
  return v;
}
