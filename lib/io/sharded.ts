// Sharded checkpoints as one state_dict: Hugging Face's model.safetensors.index.json /
// pytorch_model.bin.index.json ({"metadata": {...}, "weight_map": {tensor name: shard file}}) or the folder
// that holds one. A ShardedCheckpoint is a lazy loader with keys: opening it reads only the index (and, when a
// shard is first touched, that shard's header or pickle); get(name) reads one tensor from its shard, then;
// loadAll() reads every listed tensor, shard by shard, tensors that share a storage inside a .bin shard staying
// shared (as torch.load of that shard gives them).
//
// Nothing outside the index's folder is read: a shard path that is absolute or climbs out ('../x') is refused,
// and so are a tensor listed twice, a missing shard, and a shard that lacks a tensor listed for it; each with
// a CheckpointError naming the index file and the tensor.
import * as fs from 'fs';
import * as path from 'path';
import { DTYPE_SIZE, Tensor } from '../tensor';
import { firstDuplicateKey } from './json-keys';
import { readSafetensorsHeader, SafetensorsEntry } from './safetensors';
import { CheckpointError, FileSource, Source } from './source';
import { throwIfAborted } from '../errors';
import { bytesAs, readTensorBytes } from './tensor-bytes';
import { LoadOptions, MapLocation, TorchArchive, loadTorchAsync, materialize, openArchive, sniff } from './torchsave';
import { checkOptions, optionKeys, Progress } from '../options';
import { flattenTree } from './tree';
import { OrderedDict, TensorRef } from './values';

/** The file names transformers looks for in a model folder, in the order it prefers them. */
export const CHECKPOINT_NAMES = ['model.safetensors', 'model.safetensors.index.json', 'pytorch_model.bin', 'pytorch_model.bin.index.json'];
/** An index is JSON; no real one is anywhere near this size (a 100k-tensor model's is ~10 MB). */
const MAX_INDEX_BYTES = 256 << 20;

/**
 * What a checkpoint path names: a single file, or a shard index. A folder resolves as transformers'
 * from_pretrained does (model.safetensors, then its index, then pytorch_model.bin, then its index); a
 * file whose name ends in .json is an index.
 */
export function resolveCheckpoint(p: string): { kind: 'file' | 'index'; file: string } {
  let st: fs.Stats;
  try { st = fs.statSync(p); } catch { return { kind: 'file', file: p }; } // the reader names the missing file
  if (st.isDirectory()) {
    for (const n of CHECKPOINT_NAMES) {
      const f = path.join(p, n);
      if (fs.existsSync(f) && fs.statSync(f).isFile()) return { kind: n.endsWith('.json') ? 'index' : 'file', file: f };
    }
    const idx = fs.readdirSync(p).filter((n) => n.endsWith('.index.json'));
    if (idx.length === 1) return { kind: 'index', file: path.join(p, idx[0]) };
    throw new CheckpointError(p, `a folder (not a regular file) without ${CHECKPOINT_NAMES.join(', ')}` +
      (idx.length > 1 ? ` but with ${idx.length} index files (${idx.join(', ')}): name the one to load` : ': no checkpoint to load'));
  }
  return { kind: /\.json$/i.test(p) ? 'index' : 'file', file: p };
}

/** One shard, opened when first needed. */
interface Shard {
  has(name: string): boolean;
  /** Reads one tensor now (a new Tensor the caller disposes). */
  read(name: string, loc: MapLocation): Tensor;
  /** Reads `names` (all present), keeping storages shared where the shard shares them. */
  readAll(names: string[], loc: MapLocation): Map<string, Tensor>;
  /** readAll with the bytes read on libuv worker threads (the JS thread stays free between tensors). */
  readAllAsync(names: string[], loc: MapLocation, each: (name: string, i: number) => void, signal?: AbortSignal): Promise<Map<string, Tensor>>;
  /** dtype, shape and bytes of a tensor, from the header (no data read). */
  describe(name: string): { dtype: string; shape: number[]; nbytes: number; storageBytes: number; storageKey?: string };
  close(): void;
}

function toDevice(t: Tensor, loc: MapLocation): Tensor {
  if (loc === 'cpu' || loc === 'keep') return t;
  const m = t.to(loc);
  t.dispose();
  return m;
}

class SafetensorsShard implements Shard {
  private readonly entries: Map<string, SafetensorsEntry>;
  constructor(private readonly src: Source) {
    this.entries = new Map(readSafetensorsHeader(src).tensors.map((e) => [e.name, e]));
  }
  has(name: string): boolean { return this.entries.has(name); }
  read(name: string, loc: MapLocation): Tensor {
    const e = this.entries.get(name)!;
    const flat = readTensorBytes(this.src, e.offset, e.nbytes, e.dtype, { buf: null });
    const t = flat.reshape(e.shape);
    flat.dispose();
    return toDevice(t, loc);
  }
  readAll(names: string[], loc: MapLocation): Map<string, Tensor> {
    const out = new Map<string, Tensor>();
    try {
      for (const n of names) out.set(n, this.read(n, loc));
    } catch (e) {
      for (const t of out.values()) t.dispose();
      throw e;
    }
    return out;
  }
  async readAllAsync(names: string[], loc: MapLocation, each: (name: string, i: number) => void): Promise<Map<string, Tensor>> {
    const out = new Map<string, Tensor>();
    try {
      for (const n of names) {
        each(n, out.size);
        const e = this.entries.get(n)!;
        const bytes = this.src.readTensorAsync ? await this.src.readTensorAsync(e.offset, e.nbytes) : null;
        if (!bytes) { out.set(n, this.read(n, loc)); continue; }
        const flat = bytesAs(bytes, e.dtype);
        const t = flat.reshape(e.shape);
        flat.dispose();
        out.set(n, toDevice(t, loc));
      }
    } catch (err) {
      for (const t of out.values()) t.dispose();
      throw err;
    }
    return out;
  }
  describe(name: string): ReturnType<Shard['describe']> {
    const e = this.entries.get(name)!;
    return { dtype: e.dtype, shape: e.shape, nbytes: e.nbytes, storageBytes: e.nbytes };
  }
  close(): void { this.src.close(); }
}

class TorchShard implements Shard {
  private readonly archive: TorchArchive;
  private readonly refs = new Map<string, TensorRef>();
  private readonly allowGlobals?: readonly string[];
  constructor(private readonly src: Source, opts: LoadOptions) {
    this.allowGlobals = opts.allowGlobals;
    this.archive = openArchive(src, { allowGlobals: opts.allowGlobals });
    flattenTree(this.archive.root, (n, v) => { if (v instanceof TensorRef) this.refs.set(n, v); });
  }
  has(name: string): boolean { return this.refs.has(name); }
  read(name: string, loc: MapLocation): Tensor {
    return materialize({ ...this.archive, root: this.refs.get(name)! }, loc) as Tensor;
  }
  readAll(names: string[], loc: MapLocation): Map<string, Tensor> {
    // One materialize over the listed tensors: views of one storage read it once and stay shared.
    const od = new OrderedDict<string, unknown>(names.map((n) => [n, this.refs.get(n)!]));
    return materialize({ ...this.archive, root: od }, loc) as Map<string, Tensor>;
  }
  async readAllAsync(names: string[], loc: MapLocation, each: (name: string, i: number) => void, signal?: AbortSignal): Promise<Map<string, Tensor>> {
    // the whole shard with its storages read off-thread (loadTorchAsync), then only the listed tensors kept
    each(names[0], 0);
    const tree = await loadTorchAsync(this.src.name, { mapLocation: loc, allowGlobals: this.allowGlobals, signal });
    const all = new Map<string, Tensor>();
    flattenTree(tree, (n, v) => { if (v instanceof Tensor) all.set(n, v); });
    const out = new Map<string, Tensor>();
    for (const n of names) out.set(n, all.get(n)!);
    const keep = new Set(out.values());
    for (const t of all.values()) if (!keep.has(t)) t.dispose();
    return out;
  }
  describe(name: string): ReturnType<Shard['describe']> {
    const r = this.refs.get(name)!;
    const el = DTYPE_SIZE[r.dtype];
    return { dtype: r.dtype, shape: r.shape, nbytes: r.numel * el, storageBytes: r.storage.numel * el, storageKey: r.storage.key };
  }
  close(): void { this.src.close(); }
}

const OPEN_OPTIONS = optionKeys<LoadOptions>('ShardedCheckpoint.open', { mapLocation: true, allowGlobals: true });

/** Where get() and loadAll() put tensors (default: the open() options' mapLocation, else 'cpu'). */
export interface ShardedReadOptions { mapLocation?: MapLocation; }
const READ_OPTIONS = optionKeys<ShardedReadOptions>('ShardedCheckpoint.get', { mapLocation: true });

/** What loadAllAsync reports after each tensor: tensors done of the total, and the next tensor's name. */
export interface ShardedLoadProgress extends Progress { phase: 'load'; total: number; name: string; }
export interface ShardedLoadAsyncOptions extends ShardedReadOptions {
  /** Stops the load between tensors (nothing read so far is kept). */
  signal?: AbortSignal;
  onProgress?: (p: ShardedLoadProgress) => void;
}
const LOAD_ASYNC_OPTIONS = optionKeys<ShardedLoadAsyncOptions>('ShardedCheckpoint.loadAllAsync', { mapLocation: true, signal: true, onProgress: true });

/** A sharded checkpoint: its index read and checked, its shards opened only when a tensor needs them. */
export class ShardedCheckpoint {
  /** The index's own "metadata" (total_size, ...), as written. */
  readonly metadata: Record<string, unknown>;
  /** The folder shard paths are relative to. */
  readonly dir: string;
  private readonly map: Map<string, string>;
  private readonly shards = new Map<string, Shard>();

  private constructor(readonly file: string, private readonly opts: LoadOptions) {
    const fail = (m: string): never => { throw new CheckpointError(file, `shard index: ${m}`); };
    let text = '';
    try {
      const st = fs.statSync(file);
      if (!st.isFile()) fail('not a regular file');
      if (st.size > MAX_INDEX_BYTES) fail(`${st.size} bytes is more than an index can plausibly be (limit ${MAX_INDEX_BYTES})`);
      text = fs.readFileSync(file, 'utf8');
    } catch (e) {
      if (e instanceof CheckpointError) throw e;
      fail(`cannot read: ${(e as Error).message}`);
    }
    let j: any = null;
    try { j = JSON.parse(text); } catch (e) { fail(`not valid JSON (${(e as Error).message})`); }
    if (typeof j !== 'object' || j === null || Array.isArray(j)) fail('not a JSON object');
    const wm = j.weight_map;
    if (typeof wm !== 'object' || wm === null || Array.isArray(wm)) fail("no 'weight_map' object (tensor name -> shard file)");
    const dup = firstDuplicateKey(text);
    if (dup && dup.path === 'weight_map') fail(`tensor '${dup.key}' is listed twice in weight_map (which shard holds it?)`);
    if (dup && dup.path === '') fail(`key '${dup.key}' appears twice at the top level (which one is meant?)`);
    this.metadata = typeof j.metadata === 'object' && j.metadata !== null ? j.metadata : {};
    this.dir = path.dirname(path.resolve(file));
    this.map = new Map();
    const checked = new Set<string>();
    for (const [name, shard] of Object.entries<unknown>(wm)) {
      if (typeof shard !== 'string' || shard === '') fail(`tensor '${name}': the shard is not a file name (${JSON.stringify(shard)})`);
      const s = shard as string;
      if (!checked.has(s)) {
        const abs = path.resolve(this.dir, s);
        const rel = path.relative(this.dir, abs);
        // any '..' segment is refused, even one that climbs back in: a shard name is a name in this folder
        if (path.isAbsolute(s) || s.split(/[\\/]/).includes('..') || rel === '' || rel.startsWith('..') || path.isAbsolute(rel) || s.includes('\0')) {
          fail(`tensor '${name}': shard path '${s}' is outside the index's folder ${this.dir}; refused`);
        }
        let ok = false;
        try { ok = fs.statSync(abs).isFile(); } catch { /* missing */ }
        if (!ok) fail(`tensor '${name}' is in shard '${s}', which does not exist (${abs})`);
        checked.add(s);
      }
      this.map.set(name, s);
    }
  }

  /** Opens an index file, or the folder holding one (see resolveCheckpoint). */
  static open(p: string, opts: LoadOptions = {}): ShardedCheckpoint {
    checkOptions('ShardedCheckpoint.open', opts, OPEN_OPTIONS);
    const r = resolveCheckpoint(p);
    if (r.kind !== 'index') throw new CheckpointError(p, `not a sharded checkpoint (${r.file} is a single file): use load()`);
    return new ShardedCheckpoint(r.file, opts);
  }

  /** Tensor names in the index's order (Hugging Face writes them sorted: not the model's parameter order). */
  keys(): string[] { return [...this.map.keys()]; }
  has(name: string): boolean { return this.map.has(name); }
  get size(): number { return this.map.size; }
  /** Shard file names, in the order the index first names them. */
  shardFiles(): string[] { return [...new Set(this.map.values())]; }
  /** The shard (relative to the index's folder) listed for a tensor. */
  shardOf(name: string): string {
    const s = this.map.get(name);
    if (s === undefined) throw new CheckpointError(this.file, `no tensor '${name}' in the index`);
    return s;
  }

  private shard(s: string, forName: string): Shard {
    let sh = this.shards.get(s);
    if (sh) return sh;
    const src = new FileSource(path.join(this.dir, s));
    try {
      const kind = sniff(src);
      sh = kind === 'safetensors' ? new SafetensorsShard(src) : new TorchShard(src, this.opts);
    } catch (e) {
      src.close();
      const msg = (e as Error).message;
      throw new CheckpointError(this.file, `tensor '${forName}': shard '${s}': ${msg}`);
    }
    // every tensor the index lists for this shard must be in it
    for (const [n, sn] of this.map) {
      if (sn === s && !sh.has(n)) {
        sh.close();
        throw new CheckpointError(this.file, `tensor '${n}' is listed in shard '${s}', but that shard does not hold it`);
      }
    }
    this.shards.set(s, sh);
    return sh;
  }

  /** One tensor, read from its shard now (a new Tensor: the caller disposes it). */
  get(name: string, opts: ShardedReadOptions = {}): Tensor {
    checkOptions('ShardedCheckpoint.get', opts, READ_OPTIONS);
    const s = this.shardOf(name);
    return this.shard(s, name).read(name, opts.mapLocation ?? this.opts.mapLocation ?? 'cpu');
  }

  /** dtype, shape and sizes of a tensor from its shard's header (no tensor data read). */
  describe(name: string): ReturnType<Shard['describe']> & { shard: string } {
    const s = this.shardOf(name);
    return { ...this.shard(s, name).describe(name), shard: s };
  }

  /** Opens every shard and checks it holds what the index lists (headers only), before any data is read. */
  validate(): void {
    for (const s of this.shardFiles()) this.shard(s, [...this.map].find(([, x]) => x === s)![0]);
  }

  /** Every listed tensor, in index order, read shard by shard. */
  loadAll(opts: ShardedReadOptions = {}): OrderedDict<string, Tensor> {
    checkOptions('ShardedCheckpoint.loadAll', opts, READ_OPTIONS);
    const loc = opts.mapLocation ?? this.opts.mapLocation ?? 'cpu';
    this.validate();
    const got = new Map<string, Tensor>();
    try {
      for (const s of this.shardFiles()) {
        const names = this.keys().filter((n) => this.map.get(n) === s);
        const part = this.shard(s, names[0]).readAll(names, loc);
        for (const [n, t] of part) got.set(n, t);
        // one shard's file is released as soon as it is read
        this.shards.get(s)!.close();
        this.shards.delete(s);
      }
    } catch (e) {
      for (const t of got.values()) t.dispose();
      throw e;
    }
    return new OrderedDict(this.keys().map((n) => [n, got.get(n)!]));
  }

  /**
   * loadAll with the tensor bytes read on worker threads, so a service's event loop keeps turning while a
   * large checkpoint loads; `signal` stops it between tensors (nothing read so far is kept), `onProgress`
   * reports { done, total, phase: 'load', name } (tensors done, of the total; the tensor read next).
   */
  async loadAllAsync(opts: ShardedLoadAsyncOptions = {}): Promise<OrderedDict<string, Tensor>> {
    checkOptions('ShardedCheckpoint.loadAllAsync', opts, LOAD_ASYNC_OPTIONS);
    throwIfAborted(opts.signal, `loading ${this.file}`);
    const loc = opts.mapLocation ?? this.opts.mapLocation ?? 'cpu';
    this.validate();
    const got = new Map<string, Tensor>();
    const total = this.map.size;
    const each = (name: string, i: number): void => {
      throwIfAborted(opts.signal, `loading ${this.file}`);
      opts.onProgress?.({ done: got.size + i, total, phase: 'load', name });
    };
    try {
      for (const s of this.shardFiles()) {
        const names = this.keys().filter((n) => this.map.get(n) === s);
        const part = await this.shard(s, names[0]).readAllAsync(names, loc, each, opts.signal);
        for (const [n, t] of part) got.set(n, t);
        this.shards.get(s)?.close();
        this.shards.delete(s);
      }
      throwIfAborted(opts.signal, `loading ${this.file}`);
      opts.onProgress?.({ done: got.size, total, phase: 'load', name: '' });
    } catch (e) {
      for (const t of got.values()) t.dispose();
      throw e;
    }
    return new OrderedDict(this.keys().map((n) => [n, got.get(n)!]));
  }

  /** Closes every shard file still open (get()/describe() keep the shards they touched open). */
  close(): void {
    for (const s of this.shards.values()) s.close();
    this.shards.clear();
  }
}
