// Where checkpoint bytes come from: a file read by position (so a multi-GB file is never copied whole
// into memory), or a Buffer already in memory (tests, the fuzzer). Both report errors with the file name.
import * as fs from 'fs';
import { native } from '../native';
import { Tensor } from '../tensor';
import { CheckpointError } from '../errors';

export interface Source {
  /** The name used in error messages (a path, or '<buffer>'). */
  readonly name: string;
  readonly size: number;
  /** Exactly `len` bytes at `pos`, into `into` when given (at offset 0), else a new Buffer. */
  read(pos: number, len: number, into?: Buffer): Buffer;
  /** Exactly `len` bytes at `pos` as a new 1-d uint8 Tensor (files: read straight into it, one copy). */
  readTensor?(pos: number, len: number): Tensor;
  /** readTensor on a worker thread (files only). */
  readTensorAsync?(pos: number, len: number): Promise<Tensor>;
  close(): void;
}

export { CheckpointError } from '../errors';

export class FileSource implements Source {
  readonly size: number;
  private fd: number | null;
  constructor(readonly name: string) {
    try {
      // O_NONBLOCK: opening a FIFO (or a device) for reading must not wait for a writer; the fstat below
      // then refuses anything that is not a regular file. For regular files the flag changes nothing.
      this.fd = fs.openSync(name, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    } catch (e) {
      throw new CheckpointError(name, `cannot open: ${(e as Error).message}`);
    }
    const st = fs.fstatSync(this.fd);
    if (!st.isFile()) {
      fs.closeSync(this.fd);
      throw new CheckpointError(name, 'not a regular file');
    }
    this.size = st.size;
  }
  /** The open fd, after checking that `len` bytes at `pos` lie inside the file. */
  private fdFor(pos: number, len: number): number {
    if (this.fd === null) throw new CheckpointError(this.name, 'read after close');
    if (pos < 0 || len < 0 || pos + len > this.size) {
      throw new CheckpointError(this.name, `read of ${len} bytes at ${pos} is past the end of the file (${this.size} bytes): truncated?`);
    }
    return this.fd;
  }
  read(pos: number, len: number, into?: Buffer): Buffer {
    const fd = this.fdFor(pos, len);
    const buf = into ?? Buffer.allocUnsafe(len);
    let done = 0;
    // readSync may return fewer bytes than asked (large reads are split at 2 GiB by the OS).
    while (done < len) {
      const n = fs.readSync(fd, buf, done, Math.min(len - done, 1 << 30), pos + done);
      if (n <= 0) throw new CheckpointError(this.name, `unexpected end of file at ${pos + done}`);
      done += n;
    }
    return buf;
  }
  readTensor(pos: number, len: number): Tensor {
    const fd = this.fdFor(pos, len);
    try {
      return new Tensor(native.readFileBytes(fd, pos, len));
    } catch (e) {
      throw new CheckpointError(this.name, (e as Error).message);
    }
  }
  async readTensorAsync(pos: number, len: number): Promise<Tensor> {
    const fd = this.fdFor(pos, len);
    try {
      return new Tensor(await native.readFileBytesAsync(fd, pos, len));
    } catch (e) {
      throw new CheckpointError(this.name, (e as Error).message);
    }
  }
  close(): void {
    if (this.fd !== null) fs.closeSync(this.fd);
    this.fd = null;
  }
}

/** Checkpoint bytes already in memory (an upload, a fetch() body): read in place, never copied whole. */
export class BufferSource implements Source {
  readonly size: number;
  private readonly buf: Buffer;
  constructor(data: Uint8Array, readonly name = '<buffer>') {
    this.buf = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    this.size = this.buf.length;
  }
  read(pos: number, len: number, into?: Buffer): Buffer {
    if (pos < 0 || len < 0 || pos + len > this.size) {
      throw new CheckpointError(this.name, `read of ${len} bytes at ${pos} is past the end of the data (${this.size} bytes): truncated?`);
    }
    if (into) {
      this.buf.copy(into, 0, pos, pos + len);
      return into;
    }
    return this.buf.subarray(pos, pos + len);
  }
  close(): void { /* nothing held */ }
}

/** A file by path, or bytes in memory (`name` is what errors call them, default '<buffer>'). */
export function openSource(src: string | Uint8Array, name?: string): Source {
  return typeof src === 'string' ? new FileSource(src) : new BufferSource(src, name);
}
