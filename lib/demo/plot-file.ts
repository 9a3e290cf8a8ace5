// The scatter plot's file: a name that does not exist yet (demo-quick.svg, demo-quick-1.svg, ...) so a
// rerun never replaces an earlier plot; written atomically.
import * as fs from 'fs';
import * as path from 'path';
import { writeAtomic } from '../io/atomic';

export function freshPath(file: string): string {
  if (!fs.existsSync(file)) return file;
  const ext = path.extname(file);
  const stem = file.slice(0, file.length - ext.length);
  for (let i = 1; ; i++) {
    const p = `${stem}-${i}${ext}`;
    if (!fs.existsSync(p)) return p;
  }
}

export function writeText(file: string, data: string | Buffer, overwrite = false): void {
  writeAtomic(file, { overwrite }, (fd) => { fs.writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data); });
}
