// memory(): how many tensors are alive and how many bytes they hold, per device (like tfjs's
// tf.memory()), and a one-time warning when live tensors pile up without being disposed. The common
// cause is a synchronous loop (`for (...) model.forward(x)`): each result is freed by its finalizer only
// after the event loop turns, so 5,000 iterations can hold gigabytes. tidy() or dispose() fixes it.
// Two triggers, either one warns (once per process): live bytes above a threshold (1 GiB by default), and
// the sync-loop signature itself, so that a small model's loop is loud too (5,000 forward() calls of a
// 784-256-10 MLP held 334 MB, 4,000x its working set, without reaching 1 GiB): within one synchronous
// stretch (no event-loop turn), thousands more live tensors, over 64 MiB more, and over twice the bytes
// live when the stretch began. Loading a checkpoint makes hundreds of tensors, not thousands.
//
// The counts come from the addon (native/core/live.cpp), which sees a handle from its creation until
// dispose() or its finalizer, so tensors whose JS objects were collected but not yet finalized still count.
import { SquisherError } from '../errors';
import { native } from '../native';

export interface DeviceMemory {
  /** Live tensor handles on this device (not disposed, not yet finalized). */
  numTensors: number;
  /** Bytes of the distinct storages those tensors view (views of one storage count once). */
  numBytes: number;
  /** Distinct storages behind them. */
  numDataBuffers: number;
}
export interface MemoryInfo extends DeviceMemory {
  /** Per device ('cpu', 'cuda:0', ...). */
  devices: Record<string, DeviceMemory>;
}

const CHECK_EVERY = 1024;
/** The sync-loop trigger: this many more live tensors than when the synchronous stretch began... */
const STRETCH_TENSORS = 4096;
/** ...holding at least this many more bytes (and more than twice the bytes live at its start). */
const STRETCH_BYTES = 64 * 1024 ** 2;
let created = 0;
/** Live tensors and bytes at the first check since the event loop last turned; null once it has turned. */
let stretch: { tensors: number; bytes: number } | null = null;
let warnBytes = parseWarnBytes(process.env.SQUISHER_MEMORY_WARN_BYTES);
let warned = false;

function parseWarnBytes(v: string | undefined): number {
  if (v === undefined || v === '') return 1024 ** 3;
  const n = Number(v);
  return Number.isFinite(n) && n > 0 ? n : Infinity;
}

/** Live tensors and their bytes, in total and per device (like tfjs's tf.memory()). */
export function memory(): MemoryInfo {
  if (typeof native.liveTensors !== 'function') {
    throw new SquisherError('memory(): the native addon was built before memory() existed; rebuild it (npm run build)');
  }
  const devices: Record<string, DeviceMemory> = {};
  const total: DeviceMemory = { numTensors: 0, numBytes: 0, numDataBuffers: 0 };
  for (const [device, numTensors, numBytes, numDataBuffers] of native.liveTensors()) {
    if (numTensors === 0 && numBytes === 0) continue;
    devices[device] = { numTensors, numBytes, numDataBuffers };
    total.numTensors += numTensors; total.numBytes += numBytes; total.numDataBuffers += numDataBuffers;
  }
  return { ...total, devices };
}

/** @internal Called by every new Tensor: one counter on the hot path, a look every 1024 tensors. */
export function noteCreated(): void {
  // An addon older than its TypeScript (not rebuilt after an update) has no counter: then never warn.
  if (++created % CHECK_EVERY === 0 && !warned && warnBytes !== Infinity && typeof native.liveTensors === 'function') check();
}

/**
 * Sets the live-tensor bytes above which squisher warns, once per process, that tensors are not being
 * disposed (default 1 GiB; also SQUISHER_MEMORY_WARN_BYTES). `Infinity` or 0 turns the warning off, the
 * sync-loop trigger included.
 */
export function setMemoryWarning(bytes: number): void {
  warnBytes = bytes > 0 ? bytes : Infinity;
  warned = false;
}

function fmt(n: number): string {
  return n >= 1024 ** 3 ? `${(n / 1024 ** 3).toFixed(1)} GiB` : n >= 1024 ** 2 ? `${(n / 1024 ** 2).toFixed(0)} MiB` : `${(n / 1024).toFixed(0)} KiB`;
}

function check(): void {
  const m = memory();
  if (m.numBytes >= warnBytes) return warn(`${m.numTensors} live tensors hold ${fmt(m.numBytes)}.`);
  if (!stretch) {
    stretch = { tensors: m.numTensors, bytes: m.numBytes };
    // Finalizers of dropped tensors run once the event loop turns: that ends the stretch.
    setImmediate(() => { stretch = null; }).unref();
    return;
  }
  const more = m.numTensors - stretch.tensors, grew = m.numBytes - stretch.bytes;
  if (more >= STRETCH_TENSORS && grew >= STRETCH_BYTES && m.numBytes > 2 * stretch.bytes) {
    warn(`${m.numTensors} live tensors hold ${fmt(m.numBytes)}: ${more} more (${fmt(grew)}) than when this synchronous ` +
      `stretch began (${fmt(stretch.bytes)}), with no event-loop turn in between.`);
  }
}

function warn(what: string): void {
  warned = true;
  const w = new Error(
    `${what} Tensors that are not disposed are freed by their finalizers only after the event loop turns, so a ` +
    'synchronous loop keeps every result alive. Wrap each iteration in tidy(() => ...) or call dispose() on ' +
    'results you no longer need. (memory() shows live tensors; setMemoryWarning(bytes) moves the threshold, 0 ' +
    'turns this warning off.)') as Error & { code: string };
  w.name = 'Warning';
  w.code = 'SQUISHER_LIVE_TENSORS';
  // What process.emitWarning does, but now: it defers the 'warning' event to process.nextTick, which a
  // synchronous loop never reaches, so the warning would show only after the loop (or never, if it runs out
  // of memory). Node's own listener prints it (not under --no-warnings); process.on('warning') sees it.
  process.emit('warning', w);
}
