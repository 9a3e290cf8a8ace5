// Devices, threads and random seeds.
import { CudaMemoryStats, native } from '../native';

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
    throw new Error(`device '${requested}' requested, but CUDA is not available here ` +
      '(this libtorch has no CUDA support or no GPU is visible); use --device cpu');
  }
  return requested;
}
export type { CudaMemoryStats };
