// One error hierarchy for the whole library, so a service can map failures to responses by class
// (`instanceof`) instead of by message text. Every error squisher throws on purpose is a SquisherError;
// the `status` field is the HTTP status a service would usually answer with (documented in the README).

/** The base class: every error squisher raises on purpose. */
export class SquisherError extends Error {
  /** The HTTP status a service would usually map this error to. */
  readonly status: number = 500;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A file (checkpoint, archive, shard index) that cannot be read: the message starts with the file's name. */
export class CheckpointError extends SquisherError {
  override readonly status: number = 422;
  constructor(readonly file: string, problem: string, options?: { cause?: unknown }) {
    super(`${file}: ${problem}`, options);
  }
}

/** A tensor of the wrong shape, or shapes that do not fit together (names the tensor and both shapes). */
export class ShapeError extends SquisherError {
  override readonly status: number = 400;
}

/** A tensor of the wrong dtype, or a dtype this build cannot represent. */
export class DTypeError extends SquisherError {
  override readonly status: number = 400;
}

/** An option or argument that is not allowed: an unknown key, a wrong type, a value out of range. */
export class OptionError extends SquisherError {
  override readonly status: number = 400;
}

/** Optimizer state that does not fit a model: counts, names or shapes that do not match. */
export class OptimizerStateError extends SquisherError {
  override readonly status: number = 422;
}

/** An error raised inside libtorch (`c10::Error`): `op` names the operator when one was being called. */
export class TorchError extends SquisherError {
  override readonly status: number = 500;
  constructor(message: string, readonly op?: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/**
 * A tensor that pending async work (callOpAsync, matmulAsync, forwardAsync, ...) is using: a write to
 * memory it reads, or any use of memory it writes, through any tensor sharing that storage (views,
 * detach(), module parameters). Await the pending work, then retry.
 */
export class BusyError extends SquisherError {
  override readonly status: number = 409;
}

/** Long work stopped by its AbortSignal. `name` is 'AbortError', as DOM and Node abort errors are. */
export class AbortError extends SquisherError {
  override readonly status: number = 499;
  constructor(message = 'aborted', options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AbortError';
  }
}

/** A distributed (c10d) failure: a rank that died, hung or disagreed; `rank` names it when known. */
export class DistributedError extends SquisherError {
  override readonly status: number = 503;
  constructor(message: string, readonly rank?: number, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** Throws the signal's reason when it is an Error, else an AbortError naming `what`; nothing when not aborted. */
export function throwIfAborted(signal: AbortSignal | undefined, what: string): void {
  if (!signal?.aborted) return;
  const r: unknown = signal.reason;
  if (r instanceof Error) throw r;
  throw new AbortError(`${what}: aborted`, { cause: r });
}
