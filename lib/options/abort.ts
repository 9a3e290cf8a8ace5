// Abort for work that cannot be stopped half-way: one native call on libuv's pool (a TorchScript forward,
// one file read) runs to its end once scheduled. The caller still gets its answer at once: the promise
// rejects as soon as the signal aborts, and the result, when it lands later, is handed to `drop` (which
// disposes its tensors), so nothing leaks and nobody waits for work whose answer is no longer wanted.
import { throwIfAborted } from '../errors';

/**
 * Settles as `work` does, or rejects (throwIfAborted's error: the signal's reason, or an AbortError naming
 * `what`) as soon as `signal` aborts; a result that arrives after that goes to `drop`, an error is ignored.
 * Check the signal (throwIfAborted) before starting `work`: this only covers the wait.
 */
export function untilAborted<T>(work: Promise<T>, signal: AbortSignal | undefined, what: string, drop: (v: T) => void): Promise<T> {
  if (!signal) return work;
  return new Promise<T>((resolve, reject) => {
    let gone = false;
    const onAbort = (): void => {
      if (gone) return;
      gone = true;
      try { throwIfAborted(signal, what); } catch (e) { reject(e); }
    };
    signal.addEventListener('abort', onAbort, { once: true });
    work.then((v) => {
      signal.removeEventListener('abort', onAbort);
      if (gone) drop(v); else { gone = true; resolve(v); }
    }, (e: unknown) => {
      signal.removeEventListener('abort', onAbort);
      if (!gone) { gone = true; reject(e); }
    });
    if (signal.aborted) onAbort();
  });
}
