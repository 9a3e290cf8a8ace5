// Atomic file writes: write to a temporary file in the destination's folder (same filesystem, so the
// rename is atomic), fsync, then rename over the target. A crash leaves either the old file or the new.
import * as fs from 'fs';
import * as path from 'path';

export interface WriteOptions {
  /** Replace an existing file (default false: an existing file is an error). */
  overwrite?: boolean;
}

export function writeAtomic(target: string, opts: WriteOptions, body: (fd: number) => void): void {
  const dest = path.resolve(target);
  if (!opts.overwrite && fs.existsSync(dest)) {
    throw new Error(`${target}: file exists; pass { overwrite: true } (CLI: --overwrite) to replace it`);
  }
  const tmp = path.join(path.dirname(dest), `.${path.basename(dest)}.${process.pid}.${Date.now().toString(36)}.tmp`);
  let fd: number;
  try {
    fd = fs.openSync(tmp, 'wx');
  } catch (e) {
    throw new Error(`${target}: cannot create a temporary file next to it: ${(e as Error).message}`);
  }
  try {
    body(fd);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = -1;
    if (!opts.overwrite && fs.existsSync(dest)) {
      throw new Error(`${target}: file appeared while writing; pass { overwrite: true } to replace it`);
    }
    fs.renameSync(tmp, dest);
  } catch (e) {
    if (fd >= 0) fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}
