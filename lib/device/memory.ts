// memory(): how many tensors are alive and how many bytes they hold, per device (like tfjs's
// tf.memory()), and a one-time warning when live tensors pile up without being disposed. The common
// cause is a synchronous loop (`for (...) model.forward(x)`): each result is freed by its finalizer only
// after the event loop turns, so 5,000 iterations can hold gigabytes. tidy() or dispose() fixes it.
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
let created = 0;
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
 * disposed (default 1 GiB; also SQUISHER_MEMORY_WARN_BYTES). `Infinity` or 0 turns the warning off.
 */
export function setMemoryWarning(bytes: number): void {
  warnBytes = bytes > 0 ? bytes : Infinity;
  warned = false;
}

function fmt(n: number): string {
  return n >= 1024 ** 3 ? `${(n / 1024 ** 3).toFixed(1)} GiB` : `${(n / 1024 ** 2).toFixed(0)} MiB`;
}

function check(): void {
  const m = memory();
  if (m.numBytes < warnBytes) return;
  warned = true;
  process.emitWarning(
    `${m.numTensors} live tensors hold ${fmt(m.numBytes)}. Tensors that are not disposed are freed by their ` +
    'finalizers only after the event loop turns, so a synchronous loop keeps every result alive. ' +
    'Wrap each iteration in tidy(() => ...) or call dispose() on results you no longer need. ' +
    '(memory() shows live tensors; setMemoryWarning(bytes) moves this threshold.)',
    { code: 'SQUISHER_LIVE_TENSORS' });
}
