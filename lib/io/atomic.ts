// Atomic file writes: write to a temporary file in the destination's folder (same filesystem, so the
// rename is atomic), fsync, then rename over the target. A crash leaves either the old file or the new.
//
// SIGINT/SIGTERM/SIGHUP: while a temporary file exists, a listener removes it when the signal arrives and
// then re-raises the signal with its default action (the process ends as it would have), so Ctrl-C or a
// `kill` during `convert` leaves no hidden .tmp file behind. The listener is only installed while a
// write is in progress; if the application has its own listener for the signal, the files are removed
// and the application decides what happens next. (Signals are delivered between JS tasks: a write that
// runs synchronously finishes, and is renamed into place, before the process ends.)
import * as fs from 'fs';
import * as path from 'path';
import { optionKeys } from '../options';

const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
const pending = new Set<string>();

function onSignal(sig: NodeJS.Signals): void {
  for (const f of pending) { try { fs.rmSync(f, { force: true }); } catch { /* best effort while dying */ } }
  pending.clear();
  for (const s of SIGNALS) process.removeListener(s, onSignal);
  listening = false;
  if (release) { clearTimeout(release); release = null; }
  // Re-raise with the default action, unless the application listens for this signal itself.
  if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
}

let listening = false;
let release: NodeJS.Timeout | null = null;

/** Tracks a temporary file until it is renamed or removed (see the header). */
export function trackTemp(file: string): () => void {
  if (release) { clearTimeout(release); release = null; }
  if (!listening) { for (const s of SIGNALS) process.on(s, onSignal); listening = true; }
  pending.add(file);
  return () => {
    pending.delete(file);
    if (pending.size > 0 || release) return;
    // The listener stays a moment longer: a signal that arrived during a synchronous write is dispatched
    // on the next turn of the event loop, and must still find it (to end the process), not be lost.
    release = setTimeout(() => {
      release = null;
      if (pending.size === 0 && listening) { for (const s of SIGNALS) process.removeListener(s, onSignal); listening = false; }
    }, 200);
    release.unref();
  };
}

export interface WriteOptions {
  /** Replace an existing file (default false: an existing file is an error). */
  overwrite?: boolean;
}
export const WRITE_OPTIONS = optionKeys<WriteOptions>('save', { overwrite: true });

export function writeAtomic(target: string, opts: WriteOptions, body: (fd: number) => void): void {
  const dest = path.resolve(target);
  if (!opts.overwrite && fs.existsSync(dest)) {
    throw new Error(`${target}: file exists; pass { overwrite: true } (CLI: --overwrite) to replace it`);
  }
  const tmp = path.join(path.dirname(dest), `.${path.basename(dest)}.${process.pid}.${Date.now().toString(36)}.tmp`);
  let fd: number;
  const untrack = trackTemp(tmp); // before the file exists: no moment where a signal could orphan it
  try {
    fd = fs.openSync(tmp, 'wx');
  } catch (e) {
    untrack();
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
  } finally {
    untrack();
  }
}
