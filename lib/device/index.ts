// Devices, threads and random seeds.
import * as fs from 'fs';
import * as path from 'path';
import { OptionError } from '../errors';
import { CudaMemoryStats, addonPath, libtorchRecord, native } from '../native';

export const cuda = {
  /** True when this libtorch was built with CUDA and a GPU is visible. */
  isAvailable(): boolean { return native.cudaIsAvailable(); },
  deviceCount(): number { return native.cudaDeviceCount(); },
  /** Waits for all queued GPU work (for timing). */
  synchronize(): void { native.cudaSynchronize(); },
  /** The caching allocator's current and peak allocated/reserved bytes. */
  memoryStats(device = 0): CudaMemoryStats { return native.cudaMemoryStats(device); },
  resetPeakMemoryStats(device = 0): void { native.cudaResetPeakMemoryStats(device); },
};

/** Seeds every default generator (CPU and each GPU), as torch.manual_seed. */
export function manualSeed(seed: number): void { native.manualSeed(seed); }
export function setNumThreads(n: number): void { native.setNumThreads(n); }
export function getNumThreads(): number { return native.getNumThreads(); }
/** The libtorch version the addon was built against (e.g. "2.13.0"). */
export const torchVersion: string = native.torchVersion;

/** 'cuda' when available, else 'cpu'; or checks an explicit request and names what is missing. */
export function resolveDevice(requested?: string): string {
  if (!requested || requested === 'auto') return native.cudaIsAvailable() ? 'cuda' : 'cpu';
  if (requested.startsWith('cuda') && !native.cudaIsAvailable()) {
    throw new OptionError(`device '${requested}' requested, but CUDA is not available here ` +
      '(this libtorch has no CUDA support or no GPU is visible); use --device cpu');
  }
  return requested;
}
export type { CudaMemoryStats };
export { memory, setMemoryWarning, type MemoryInfo, type DeviceMemory } from './memory';

/** What this process runs on: `squisher info` prints it, and a service can log it at start. */
export interface BuildInfo {
  /** libtorch version the addon was built against (e.g. "2.13.0"). */
  libtorch: string;
  /** 'CUDA <version>' when the libtorch has CUDA, else 'CPU'. */
  build: string;
  cudaAvailable: boolean;
  /** Usable devices: 'cpu', then 'cuda:0', 'cuda:1', ... */
  devices: string[];
  threads: number;
  /** The loaded squisher.node. */
  addon: string;
  /** The folder the loaded libtorch libraries come from (null when the platform does not say). */
  libtorchPath: string | null;
}

// The folder libc10 was really loaded from: the process's memory map, which is the truth after RUNPATH
// and LD_LIBRARY_PATH have had their say (Linux); else what the install recorded.
function loadedLibtorchDir(): string | null {
  try {
    const maps = fs.readFileSync('/proc/self/maps', 'utf8');
    const m = /\s(\/\S*\/libc10\.(?:so|dylib)\S*)$/m.exec(maps);
    if (m) return path.dirname(m[1]!);
  } catch { /* not Linux */ }
  return libtorchRecord()?.lib ?? null;
}

export function buildInfo(): BuildInfo {
  const rec = libtorchRecord();
  const cudaAvailable = native.cudaIsAvailable();
  const n = cudaAvailable ? native.cudaDeviceCount() : 0;
  return {
    libtorch: native.torchVersion,
    build: rec?.cuda ? `CUDA ${rec.cudaVersion ?? ''}`.trim() : cudaAvailable ? 'CUDA' : 'CPU',
    cudaAvailable,
    devices: ['cpu', ...Array.from({ length: n }, (_, i) => `cuda:${i}`)],
    threads: native.getNumThreads(),
    addon: addonPath,
    libtorchPath: loadedLibtorchDir(),
  };
}
