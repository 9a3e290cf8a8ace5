// FisherDiagonal: parameter name -> Tensor, plus the metadata that says what the numbers are (variant,
// N, reduction, samples, the Squisher's factors). Saved as safetensors with the metadata in
// __metadata__ (strings: numbers and booleans JSON-encoded), and read back the same way.
import { loadSafetensors, saveSafetensors } from '../io/safetensors';
import { WriteOptions } from '../io/atomic';
import { Tensor } from '../tensor/tensor';

export type FisherVariant = 'empirical' | 'mc' | 'exact' | 'batched';
export type Reduction = 'sum' | 'mean';

export interface FisherMeta {
  /** 'fisher' (from gradients) or 'squisher' (from Adam's exp_avg_sq). */
  source: 'fisher' | 'squisher' | string;
  variant?: FisherVariant;
  task?: 'classification' | 'regression';
  /** Examples the sum ran over. */
  N?: number;
  reduction?: Reduction;
  /** mc: labels sampled per example. */
  samples?: number;
  seed?: number;
  batchSize?: number;
  /** 'fast' (per-layer rules) or 'vmap' (functorch), and why the fast path was not taken. */
  engine?: string;
  /** Graph engine: backward passes to the captured outputs (exact/mc: a vmapped one per chunk of terms counts once). */
  backwards?: number;
  /** Graph engine, exact/mc: 'vmapped' (the terms of a batch on one backward's vmapped axis), or 'per term (why)'. */
  termAxis?: string;
  [k: string]: string | number | boolean | undefined;
}

export class FisherDiagonal extends Map<string, Tensor> {
  constructor(entries: Iterable<[string, Tensor]> = [], public meta: FisherMeta = { source: 'fisher' }) {
    super(entries);
  }

  /** The metadata as safetensors' string map (values that are not strings are JSON). */
  metadataStrings(): Record<string, string> {
    const out: Record<string, string> = { format: 'pt' };
    for (const [k, v] of Object.entries(this.meta)) {
      if (v === undefined) continue;
      out[`squisher.${k}`] = typeof v === 'string' ? v : JSON.stringify(v);
    }
    return out;
  }

  /** Writes safetensors atomically; an existing file is replaced only with { overwrite: true }. */
  save(file: string, o: WriteOptions = {}): void {
    const cpu = new Map([...this].map(([k, t]) => [k, t.device === 'cpu' ? t : t.cpu()]));
    try {
      saveSafetensors(file, cpu, { ...o, metadata: this.metadataStrings() });
    } finally {
      for (const [k, t] of cpu) if (t !== this.get(k)) t.dispose();
    }
  }

  static load(file: string, o: { device?: string } = {}): FisherDiagonal {
    const m = loadSafetensors(file, { device: o.device });
    const meta: FisherMeta = { source: 'unknown' };
    for (const [k, v] of Object.entries(m.metadata)) {
      if (!k.startsWith('squisher.')) continue;
      let val: string | number | boolean = v;
      if (/^(-?[\d.eE+-]+|true|false)$/.test(v)) { try { val = JSON.parse(v); } catch { /* keep the string */ } }
      meta[k.slice('squisher.'.length)] = val;
    }
    return new FisherDiagonal(m, meta);
  }

  /** Sum of all entries (a quick scale check). */
  total(): number {
    let s = 0;
    for (const t of this.values()) s += t.sum(undefined, false, 'float64').itemAndDispose();
    return s;
  }

  dispose(): void { for (const t of this.values()) t.dispose(); }
}
