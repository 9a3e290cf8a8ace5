// vmap: torch.func.vmap composed from the C++ primitives as torch/_functorch/vmap.py (_flat_vmap)
// does: push a vmap level of the batch size, add a batch dim to each mapped input, run f on what then
// looks like one sample, and move each output's batch dim to outDims.
import { native } from '../native';
import { Tensor, wrap } from '../tensor/tensor';
import { withLayer } from './layers';
import { mapTree } from './tree';
import { OptionError, ShapeError, TorchError } from '../errors';
import { checkOptions, optionKeys } from '../options';

export type Randomness = 'error' | 'same' | 'different';

export interface VmapOptions {
  /** Per positional argument: the dim to map over, or null to pass it unmapped (default 0 for all). */
  inDims?: (number | null)[] | number;
  /** Where the batch dim goes in every output (default 0). */
  outDims?: number;
  /** Random ops inside f: an error (default, as PyTorch), the same for every sample, or different. */
  randomness?: Randomness;
}
const VMAP_OPTIONS = optionKeys<VmapOptions>('func.vmap', { inDims: true, outDims: true, randomness: true });

/** Rewrites libtorch's "no batching rule" error so the user learns what failed and what to do. */
export function explainVmapError(e: unknown): Error {
  const msg = e instanceof Error ? e.message : String(e);
  const m = /Batching rule not implemented for ([\w:.]*\w)/.exec(msg) ?? /Attempted to vmap over ([\w:.]*\w)/.exec(msg);
  if (m) {
    return new TorchError(`vmap: operator ${m[1]} cannot be batched (no batching rule, and functorch's per-sample ` +
      `fallback cannot run it) (libtorch: ${msg.split('\n')[0]}). Per-sample gradients through vmap need a ` +
      "model without it; the Fisher fast path (engine 'fast') needs none when every layer has a rule", m[1], { cause: e });
  }
  return e instanceof Error ? e : new Error(msg);
}

// The batched function takes and returns what f does, each tensor with the batch dimension added.
export function vmap<A extends unknown[], R>(f: (...args: A) => R, o: VmapOptions = {}) {
  checkOptions('vmap', o, VMAP_OPTIONS);
  return (...args: A): R => {
    const dims = Array.isArray(o.inDims) ? o.inDims : args.map(() => (o.inDims === undefined ? 0 : o.inDims as number));
    if (dims.length !== args.length) throw new OptionError(`vmap: inDims has ${dims.length} entries for ${args.length} arguments`);
    let batch = -1;
    args.forEach((a, i) => {
      const d = dims[i];
      if (d === null) return;
      mapTree(a, (t, p) => {
        const dd = d < 0 ? d + t.ndim : d;
        if (dd < 0 || dd >= t.ndim) throw new ShapeError(`vmap: argument ${i}${p} has ${t.ndim} dims; cannot map over dim ${d}`);
        const n = t.shape[dd];
        if (batch >= 0 && n !== batch) throw new ShapeError(`vmap: mapped inputs disagree on the batch size (${batch} vs ${n} for argument ${i}${p})`);
        batch = n;
        return t;
      });
    });
    if (batch < 0) throw new OptionError('vmap: at least one argument must be a mapped Tensor');
    try {
      return withLayer(() => native.vmapIncrementNesting(batch, o.randomness ?? 'error'), (level) => {
        const batched = args.map((a, i) => (dims[i] === null ? a
          : mapTree(a, (t) => wrap(native.addBatchDim(t.handle, (dims[i] as number) < 0 ? (dims[i] as number) + t.ndim : dims[i] as number, level)))));
        const out = f(...(batched as A));
        return mapTree(out, (t) => wrap(native.removeBatchDim(t.handle, level, batch, o.outDims ?? 0)));
      });
    } catch (e) {
      throw explainVmapError(e);
    }
  };
}

/**
 * Turns libtorch's "performance drop" warning off (or on) for ops that vmap runs through its slow
 * per-sample fallback (no batching rule), e.g. a user loss built on nll_loss. Returns the old setting.
 */
export function setVmapFallbackWarning(on: boolean): boolean {
  return native.setVmapFallbackWarningEnabled(on);
}
