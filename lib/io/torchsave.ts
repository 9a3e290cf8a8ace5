// torch.save files (the zip format of PyTorch >= 1.6): load into JS values with real Tensors, inspect
// without reading tensor data, and save files that torch.load(weights_only=True) reads back.
import * as path from 'path';
import { native } from '../native';
import { DType, DTYPE_SIZE, Tensor, tensor } from '../tensor';
import { WRITE_OPTIONS, WriteOptions, writeAtomic } from './atomic';
import { checkOptions, Progress, untilAborted } from '../options';
import { throwIfAborted } from '../errors';
import { MAX_RECORD_BYTES } from './limits';
import { UNTYPED_STORAGE, UNTYPED_STORAGE_DTYPES } from './dtype-records';
import { NumpyArray, PyObject } from './inert';
import { STORAGE_DTYPE, unpickle } from './pickle';
import { PickleWriter, TensorRecord } from './pickle-write';
import { CheckpointError, Source, openSource } from './source';
import { Scratch, bytesAs, readTensorBytes } from './tensor-bytes';
import { OrderedDict, PyGlobal, PyValue, StorageRef, TensorRef, Tuple } from './values';
import { ZipReader, ZipWriter } from './zip';

export type MapLocation = 'cpu' | 'cuda' | 'keep' | `cuda:${number}`;
export interface LoadOptions {
  /** Where tensors go: 'cpu' (default), 'cuda' / 'cuda:N', or 'keep' (where they were saved). */
  mapLocation?: MapLocation;
  /**
   * Globals you trust, as torch.serialization.add_safe_globals names them ('argparse.Namespace',
   * 'numpy.core.multiarray._reconstruct', ...): read as inert data (inert.ts), never called.
   */
  allowGlobals?: readonly string[];
}

/** An opened torch.save archive: its pickle already read (with TensorRefs), storages read on demand. */
export interface TorchArchive {
  zip: ZipReader;
  prefix: string;
  root: unknown;
  storages: Map<string, StorageRef>;
}

/** What kind of file this is, from its first bytes (and its zip entries). */
export function sniff(src: Source): 'zip' | 'legacy' | 'safetensors' | 'unknown' {
  if (src.size < 8) return 'unknown';
  const head = src.read(0, Math.min(src.size, 512));
  if (head.readUInt32LE(0) === 0x04034b50 || head.readUInt32LE(0) === 0x06054b50) return 'zip';
  const n = head.readBigUInt64LE(0);
  if (n > 1n && n < 100_000_000n && head[8] === 0x7b) return 'safetensors'; // u64 header length, then '{'
  if (head[0] === 0x80 && head[1] <= 5) return 'legacy'; // pre-1.6: a raw pickle stream (magic number first)
  if (head.length >= 262 && head.toString('latin1', 257, 262) === 'ustar') return 'legacy'; // pre-0.4 tar
  return 'unknown';
}

/** The archive prefix ('<name>/data.pkl'), and whether it is a TorchScript archive. */
export function archiveLayout(zip: ZipReader): { prefix: string; torchscript: boolean } {
  const pkl = [...zip.entries.keys()].find((n) => /^[^/]*\/?data\.pkl$/.test(n) || n === 'data.pkl');
  if (pkl === undefined) throw new CheckpointError(zip.src.name, 'zip archive has no data.pkl: not a torch.save checkpoint');
  const prefix = pkl.slice(0, pkl.length - 'data.pkl'.length);
  const torchscript = zip.entries.has(`${prefix}constants.pkl`) || [...zip.entries.keys()].some((n) => n.startsWith(`${prefix}code/`));
  return { prefix, torchscript };
}

/**
 * torch.load's persistent_load for an archive: turns ('storage', cls, key, location, numel) into a
 * StorageRef of record `<prefix>data/<key>`, checked against the record's size (nothing read yet).
 * Shared by torch.save files and TorchScript archives, which store tensors the same way.
 */
export function storageLoader(zip: ZipReader, prefix: string, storages: Map<string, StorageRef>): (pid: unknown) => StorageRef {
  const src = zip.src;
  return (pid: unknown): StorageRef => {
    const bad = (p: string): never => { throw new CheckpointError(src.name, `${prefix}data.pkl: ${p}`); };
    if (!Array.isArray(pid) || pid.length !== 5 || pid[0] !== 'storage') bad('unexpected persistent id (not a storage)');
    const [, cls, key, location, numel] = pid as unknown[];
    if (!(cls instanceof PyGlobal)) bad('storage type is not a class');
    const c = cls as PyGlobal;
    const dtype: DType | undefined = c.name === 'UntypedStorage' ? 'uint8' : STORAGE_DTYPE[c.name];
    if (!dtype) bad(`storage type '${c.fullName}' (its dtype) is not supported`);
    if (typeof key !== 'string' || !/^[\w.-]{1,64}$/.test(key)) bad(`bad storage key ${JSON.stringify(key)}`);
    // torch restores only locations a device backend claims ('cpu', 'cuda:0', ...); any other text is refused there.
    if (typeof location !== 'string' || !/^(cpu|mps|meta|(cuda|xpu|hpu|mtia|privateuseone)(:\d{1,4})?)$/.test(location)) {
      bad(`storage '${String(key)}': location ${JSON.stringify(String(location)).slice(0, 40)} is not a device torch restores to`);
    }
    if (typeof numel !== 'number' || !Number.isSafeInteger(numel) || numel < 0) bad(`storage '${key}': bad element count ${String(numel)}`);
    const k = key as string;
    const seen = storages.get(k);
    if (seen) {
      if (seen.dtype !== dtype) bad(`storage '${k}' is used as both ${seen.dtype} and ${dtype}`);
      return seen;
    }
    const entry = zip.entries.get(`${prefix}data/${k}`);
    if (!entry) bad(`storage '${k}' is missing from the archive (no ${prefix}data/${k})`);
    const bytes = (numel as number) * DTYPE_SIZE[dtype!];
    if (entry!.size < bytes) {
      bad(`storage '${k}' declares ${numel} ${dtype} elements (${bytes} bytes) but the archive holds ${entry!.size} bytes`);
    }
    const ref = new StorageRef(k, dtype!, numel as number, location as string);
    storages.set(k, ref);
    return ref;
  };
}

/** Opens a torch.save zip and unpickles data.pkl with the restricted unpickler (no tensor data read). */
export function openArchive(src: Source, opts: { allowGlobals?: readonly string[] } = {}): TorchArchive {
  const kind = sniff(src);
  if (kind === 'legacy') {
    throw new CheckpointError(src.name, 'legacy (pre-1.6) torch.save format is not supported; re-save it with ' +
      'PyTorch >= 1.6: torch.save(torch.load(f, weights_only=True), f2)');
  }
  if (kind === 'safetensors') throw new CheckpointError(src.name, 'this is a safetensors file, not a torch.save zip: use loadSafetensors');
  if (kind !== 'zip') throw new CheckpointError(src.name, 'not a PyTorch checkpoint (no zip, pickle or safetensors signature)');
  const zip = new ZipReader(src);
  const { prefix, torchscript } = archiveLayout(zip);
  if (torchscript) throw new CheckpointError(src.name, 'this is a TorchScript archive (torch.jit.save): use loadTorchScript');
  const bo = zip.entries.get(`${prefix}byteorder`);
  if (bo && zip.read(bo.name, { maxBytes: 64 }).toString() !== 'little') {
    throw new CheckpointError(src.name, `byteorder '${zip.read(bo.name, { maxBytes: 64 }).toString().slice(0, 16)}' is not supported (only little-endian)`);
  }
  const storages = new Map<string, StorageRef>();
  const persistentLoad = storageLoader(zip, prefix, storages);
  const root = unpickle(zip.read(`${prefix}data.pkl`, { verifyCrc: true, maxBytes: MAX_RECORD_BYTES }),
    { file: src.name, record: `${prefix}data.pkl`, persistentLoad, allowGlobals: opts.allowGlobals });
  return { zip, prefix, root, storages };
}

function targetDevice(ref: StorageRef, loc: MapLocation, file: string): string {
  if (loc === 'cpu') return 'cpu';
  const want = loc === 'keep' ? ref.location : loc;
  if (!want.startsWith('cuda')) return 'cpu';
  if (!native.cudaIsAvailable()) {
    throw new CheckpointError(file, `storage '${ref.key}' was saved on ${ref.location} and mapLocation '${loc}' wants CUDA, ` +
      "but CUDA is not available here; load with { mapLocation: 'cpu' }");
  }
  return want;
}

/** Reads one storage into a 1-d tensor of its dtype on `device`. */
function readStorage(a: TorchArchive, ref: StorageRef, device: string, scratch: Scratch): Tensor {
  const name = `${a.prefix}data/${ref.key}`;
  const nbytes = ref.numel * DTYPE_SIZE[ref.dtype];
  const entry = a.zip.entries.get(name)!;
  let t: Tensor;
  if (entry.method === 0) {
    t = readTensorBytes(a.zip.src, a.zip.dataOffset(entry), nbytes, ref.dtype, scratch);
  } else {
    // Deflated storages (not written by PyTorch, but legal zips): inflated with a capped output size.
    const b = a.zip.read(name, { maxBytes: nbytes });
    t = bytesAs(tensor(new Uint8Array(b.buffer, b.byteOffset, nbytes), { dtype: 'uint8' }), ref.dtype);
  }
  return onDevice(t, device);
}

/** t on `device` (a CPU tensor is moved and its CPU copy freed). */
function onDevice(t: Tensor, device: string): Tensor {
  if (device === 'cpu') return t;
  const moved = t.to(device);
  t.dispose();
  return moved;
}

/** Visits every value of an unpickled tree, replacing each by conv(value) in place. Iterative (deep trees). */
function walk(root: unknown, conv: (v: unknown) => unknown): unknown {
  const top = conv(root);
  const seen = new Set<object>();
  const todo: unknown[] = [top];
  while (todo.length) {
    const c = todo.pop();
    if (typeof c !== 'object' || c === null || seen.has(c) || c instanceof Tensor) continue;
    seen.add(c);
    if (Array.isArray(c)) {
      for (let i = 0; i < c.length; i++) { c[i] = conv(c[i]); todo.push(c[i]); }
    } else if (c instanceof Map) {
      for (const [k, v] of c) { const w = conv(v); if (w !== v) c.set(k, w); todo.push(w); }
      if (c instanceof OrderedDict && c.attrs) todo.push(c.attrs);
    } else if (c instanceof PyObject) { // an allow-listed object's arguments and attributes (inert.ts)
      c.state = conv(c.state);
      todo.push(c.args, c.state);
    } else if (c instanceof Set) {
      for (const v of [...c]) { const w = conv(v); if (w !== v) { c.delete(v); c.add(w); } todo.push(w); }
    }
  }
  return top;
}

type StorageReader = (ref: StorageRef, device: string) => Tensor;

/**
 * Replaces every TensorRef in the tree by a Tensor; views of one storage share it. `read` supplies each
 * storage (default: read it from the archive now).
 */
export function materialize(a: TorchArchive, loc: MapLocation = 'cpu', read?: StorageReader): PyValue {
  const storageTensors = new Map<string, Tensor>();
  const made = new Map<TensorRef, Tensor>();
  const scratch: Scratch = { buf: null };
  const readOne: StorageReader = read ?? ((ref, device) => readStorage(a, ref, device, scratch));
  const arrays = new Map<NumpyArray, Tensor>();
  const conv = (v: unknown): unknown => {
    if (v instanceof NumpyArray) { // allow-listed numpy arrays (inert.ts): their bytes are in the pickle
      let t = arrays.get(v);
      if (!t) { t = v.toTensor(); arrays.set(v, t); }
      return t;
    }
    if (!(v instanceof TensorRef)) return v;
    let t = made.get(v);
    if (t) return t;
    const sk = `${v.storage.key}:${v.storage.dtype}`; // untyped storages may be read as several dtypes
    let st = storageTensors.get(sk);
    if (!st) {
      st = readOne(v.storage, targetDevice(v.storage, loc, a.zip.src.name));
      storageTensors.set(sk, st);
    }
    t = st.asStrided(v.shape, v.strides, v.offset);
    if (v.requiresGrad && t.dtype !== 'bool' && !t.dtype.startsWith('int') && t.dtype !== 'uint8') {
      const leaf = t.detach(); t.dispose(); t = leaf.requiresGrad_(true);
    }
    made.set(v, t);
    return t;
  };
  try {
    // Every TensorRef / NumpyArray is now a Tensor: what is left is the pickle's data (values.ts).
    return walk(a.root, conv) as PyValue;
  } catch (e) {
    for (const t of made.values()) t.dispose();
    for (const t of arrays.values()) t.dispose();
    throw e;
  } finally {
    // The views hold the storages alive in libtorch; the JS wrappers of the whole storages can go.
    for (const t of storageTensors.values()) t.dispose();
  }
}

/**
 * Loads a torch.save file (or a TorchScript archive's parameters and buffers). Dicts become Maps
 * (OrderedDict for state_dicts), tuples Tuple, tensors Tensor: see values.ts for the whole mapping.
 */
export function loadTorch(file: string | Buffer, opts: LoadOptions = {}, name?: string): PyValue {
  const src = openSource(file, name);
  try {
    return materialize(openArchive(src, opts), opts.mapLocation ?? 'cpu');
  } finally {
    src.close();
  }
}

/** What loadTorchAsync can be told besides LoadOptions: stop, and report storages read. */
export interface AsyncLoadControl {
  /** Stops the load between storage reads, and stops waiting for a read under way (its bytes are freed). */
  signal?: AbortSignal;
  /** After each storage read: { done, total, phase: 'load' } (storages). */
  onProgress?: (p: Progress) => void;
}

/**
 * loadTorch with the storage reads (the bulk of a large file) on libuv worker threads, so the JS thread
 * stays free: the pickle is parsed here (it is small), every stored storage is read off-thread, then the
 * tree is built as loadTorch builds it.
 */
export async function loadTorchAsync(file: string, opts: LoadOptions & AsyncLoadControl = {}): Promise<PyValue> {
  const what = `loading ${file}`;
  throwIfAborted(opts.signal, what);
  const src = openSource(file);
  const pre = new Map<string, Tensor>();
  // A read given up on (abort) still runs on its worker: the file stays open until it ends.
  let reading: Promise<unknown> | null = null;
  try {
    const a = openArchive(src, opts);
    const loc = opts.mapLocation ?? 'cpu';
    const refs = new Map<string, StorageRef>();
    walk(a.root, (v) => { if (v instanceof TensorRef) refs.set(v.storage.key, v.storage); return v; });
    if (src.readTensorAsync) {
      let done = 0;
      for (const ref of refs.values()) {
        throwIfAborted(opts.signal, what);
        const entry = a.zip.entries.get(`${a.prefix}data/${ref.key}`);
        if (entry && entry.method === 0) {  // else missing (reported by readStorage) or deflated: read in place
          const read = src.readTensorAsync(a.zip.dataOffset(entry), ref.numel * DTYPE_SIZE[ref.dtype]);
          reading = read;
          pre.set(ref.key, await untilAborted(read, opts.signal, what, (t) => t.dispose()));
          reading = null;
        }
        opts.onProgress?.({ done: ++done, total: refs.size, phase: 'load' });
      }
    }
    throwIfAborted(opts.signal, what);
    return materialize(a, loc, (ref, device) => {
      const bytes = pre.get(ref.key);
      if (!bytes) return readStorage(a, ref, device, { buf: null });
      pre.delete(ref.key);
      return onDevice(bytesAs(bytes, ref.dtype), device);
    });
  } finally {
    for (const t of pre.values()) t.dispose();
    const close = (): void => src.close();
    if (reading) (reading as Promise<unknown>).then(close, close); else close();
  }
}

// ---- save ----

const DTYPE_STORAGE: Record<string, string> = Object.fromEntries(Object.entries(STORAGE_DTYPE).map(([k, v]) => [v, k]));

/** Writes `value` as torch.save does (zip, protocol-2 pickle, one record per storage; shared storages once). */
export function saveTorch(file: string, value: unknown, opts: WriteOptions = {}): void {
  const storages: { key: string; tensor: Tensor; dtype: DType }[] = [];
  const byId = new Map<string, { key: string; dtype: DType }>();
  const hook = (t: Tensor, at: string): TensorRecord => {
    const dtype = t.dtype;
    const cls = DTYPE_STORAGE[dtype];
    const untyped = UNTYPED_STORAGE_DTYPES.has(dtype); // float8, uint16/32/64: as torch.save writes them
    if (!cls && !untyped) throw new TypeError(`save: tensor '${at}' has dtype ${dtype}, which torch.save files here cannot hold`);
    const [id, nbytes, offset] = native.storageInfo(t.handle);
    let s = byId.get(id);
    if (s && s.dtype !== dtype) throw new TypeError(`save: tensor '${at}' views a storage already saved as ${s.dtype} as ${dtype}`);
    if (!s) {
      s = { key: String(storages.length), dtype };
      byId.set(id, s);
      // A 1-d view of the whole storage: what gets written, once, however many tensors view it.
      storages.push({ key: s.key, dtype, tensor: t.detach().asStrided([nbytes / DTYPE_SIZE[dtype]], [1], 0) });
    }
    const dev = t.device;
    return {
      pid: [untyped ? UNTYPED_STORAGE : new PyGlobal('torch', cls), s.key, dev === 'cpu' ? 'cpu' : dev.includes(':') ? dev : `${dev}:0`,
        untyped ? nbytes : nbytes / DTYPE_SIZE[dtype]],
      offset, shape: t.shape, strides: t.strides, requiresGrad: t.requiresGrad, dtype: untyped ? dtype : undefined,
    };
  };
  try {
    const pkl = new PickleWriter(hook).dump(value);
    const archive = path.basename(file).replace(/\.[^.]*$/, '').replace(/[^\w.-]/g, '_') || 'archive';
    writeAtomic(file, opts, (fd) => {
      const z = new ZipWriter(fd);
      z.add(`${archive}/data.pkl`, pkl);
      z.add(`${archive}/.format_version`, Buffer.from('1'));
      z.add(`${archive}/.storage_alignment`, Buffer.from('64'));
      z.add(`${archive}/byteorder`, Buffer.from('little'));
      for (const s of storages) {
        z.add(`${archive}/data/${s.key}`, s.tensor.toBuffer());
        s.tensor.dispose();
      }
      z.add(`${archive}/version`, Buffer.from('3\n'));
      z.add(`${archive}/.data/serialization_id`, Buffer.from(Date.now().toString().padStart(40, '0')));
      z.finish();
    });
  } finally {
    for (const s of storages) s.tensor.dispose();
  }
}

/** Saves a flat state_dict as torch does: an OrderedDict of name -> tensor. */
export function saveStateDict(file: string, sd: Map<string, Tensor> | Record<string, Tensor>, opts: WriteOptions = {}): void {
  checkOptions('saveStateDict', opts, WRITE_OPTIONS);
  const od = new OrderedDict<string, Tensor>(sd instanceof Map ? sd : Object.entries(sd));
  saveTorch(file, od, opts);
}

export { Tuple };
