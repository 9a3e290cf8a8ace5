// TorchScript archives (torch.jit.save): their parameters and buffers by name, read by PARSING the
// archive, never by running it. Loading through libtorch (torch::jit::load) runs the module's code
// (a class's __setstate__ can write files or loop forever), so reading a checkpoint must not use it:
// only ScriptModule.load (lib/nn), where the user asks to run a model, does.
//
// What is parsed: data.pkl, the module tree pickled as `__torch__.<path>.<Class>` objects, read with the
// restricted unpickler (those classes become inert ScriptObjects whose state dict holds the attributes;
// tensors come through the same persistent storage records as torch.save's). Which attributes are
// parameters and which are buffers is declared in each class's source under code/ as
// `__parameters__ = ["weight", ...]` / `__buffers__ = [...]`: two list literals read as text. A class
// whose source defines __setstate__ restores its state with code, so its weights cannot be known
// without running it: such archives are refused with a CheckpointError (ScriptModule.load can run them).
//
// Names and order are torch's: module.named_parameters() then named_buffers() (a module's own entries,
// then each submodule's, depth first; a tensor or module reached twice is listed once, at its first name).
import { Tensor } from '../tensor';
import { MAX_RECORD_BYTES } from './limits';
import { unpickle } from './pickle';
import { CheckpointError, Source, openSource } from './source';
import { MapLocation, TorchArchive, archiveLayout, materialize, sniff, storageLoader } from './torchsave';
import { OrderedDict, ScriptObject, StorageRef, TensorRef } from './values';
import { ZipReader } from './zip';
import { checkOptions, optionKeys } from '../options';

export interface TorchScriptLoadOptions {
  /** 'cpu' (default) or a CUDA device; 'keep' leaves tensors where the archive put them. */
  mapLocation?: string;
}
const TS_LOAD_OPTIONS = optionKeys<TorchScriptLoadOptions>('loadTorchScript', { mapLocation: true });

/** What a class's source declares. */
interface ClassInfo { isModule: boolean; parameters: Set<string>; buffers: Set<string>; setstate: boolean }

/** A TorchScript archive's tensors, parsed (no tensor data read yet). */
export interface TorchScriptTensors {
  archive: TorchArchive;
  parameters: [string, TensorRef][];
  buffers: [string, TensorRef][];
}

/** The string items of a Python list literal of strings, as the TorchScript printer writes them. */
function stringList(src: string): string[] {
  const out: string[] = [];
  for (const m of src.matchAll(/"((?:[^"\\]|\\.)*)"/g)) out.push(m[1].replace(/\\(.)/g, '$1'));
  return out;
}

/** Parses an archive's data.pkl and class declarations into parameter and buffer lists. */
export function parseTorchScript(src: Source): TorchScriptTensors {
  const fail = (p: string): never => { throw new CheckpointError(src.name, p); };
  if (sniff(src) !== 'zip') fail('not a TorchScript archive (not a zip)');
  const zip = new ZipReader(src);
  const { prefix } = archiveLayout(zip);
  const storages = new Map<string, StorageRef>();
  const root = unpickle(zip.read(`${prefix}data.pkl`, { verifyCrc: true, maxBytes: MAX_RECORD_BYTES }), {
    file: src.name, record: `${prefix}data.pkl`, persistentLoad: storageLoader(zip, prefix, storages), torchscript: true,
  });

  // Class sources, parsed once per code file: '__torch__.a.b' -> code/__torch__/a/b.py.
  const files = new Map<string, Map<string, ClassInfo>>();
  const classInfo = (module: string, name: string): ClassInfo => {
    let classes = files.get(module);
    if (!classes) {
      const record = `${prefix}code/${module.split('.').join('/')}.py`;
      if (!zip.entries.has(record)) fail(`TorchScript class '${module}.${name}' has no source (${record}) in the archive`);
      const text = zip.read(record, { maxBytes: MAX_RECORD_BYTES }).toString('utf8');
      classes = new Map();
      // A class block runs from its `class X(Base):` line to the next line that starts in column 0.
      const starts = [...text.matchAll(/^class ([A-Za-z_]\w*)\(([^)\n]*)\):[^\n]*$/gm)];
      starts.forEach((m, i) => {
        const end = i + 1 < starts.length ? starts[i + 1].index! : text.length;
        let block = text.slice(m.index!, end);
        const next = block.search(/\n\S/); // the class ends at the first unindented line after it
        if (next >= 0) block = block.slice(0, next + 1);
        const list = (field: string): Set<string> => {
          const f = new RegExp(`^  ${field} = \\[([^\\n]*)\\]$`, 'm').exec(block);
          return new Set(f ? stringList(f[1]) : []);
        };
        classes!.set(m[1], {
          isModule: m[2].trim() === 'Module', parameters: list('__parameters__'), buffers: list('__buffers__'),
          setstate: /^  def __setstate__\(/m.test(block),
        });
      });
      files.set(module, classes);
    }
    const info = classes.get(name);
    if (!info) return fail(`TorchScript class '${module}.${name}' is not defined in its source file`);
    return info;
  };

  if (!(root instanceof ScriptObject)) fail(`${prefix}data.pkl does not hold a TorchScript module`);
  const parameters: [string, TensorRef][] = [];
  const buffers: [string, TensorRef][] = [];
  const seenTensors = new Set<TensorRef>();
  const seenModules = new Set<ScriptObject>();
  // Depth first, a module's own tensors before its submodules', with an explicit stack (no recursion).
  const stack: [string, ScriptObject][] = [['', root as ScriptObject]];
  while (stack.length) {
    const [path, obj] = stack.pop()!;
    if (seenModules.has(obj)) continue;
    seenModules.add(obj);
    const cls = obj.cls;
    const info = classInfo(cls.module, cls.name);
    const where = path ? `module '${path}' (${cls.fullName})` : `the root module (${cls.fullName})`;
    if (info.setstate) {
      fail(`${where} restores its state with its own __setstate__ code, so its weights cannot be read without running ` +
        'the archive; nothing was run (ScriptModule.load runs it, for archives you trust)');
    }
    if (!(obj.state instanceof Map)) fail(`${where} has no attribute dict in data.pkl`);
    const children: [string, ScriptObject][] = [];
    for (const [k, v] of obj.state as Map<unknown, unknown>) {
      if (typeof k !== 'string') fail(`${where} has a non-string attribute name`);
      const name = path ? `${path}.${k}` : (k as string);
      if (v instanceof TensorRef && !seenTensors.has(v)) {
        if (info.parameters.has(k as string)) { parameters.push([name, v]); seenTensors.add(v); }
        else if (info.buffers.has(k as string)) { buffers.push([name, v]); seenTensors.add(v); }
      } else if (v instanceof ScriptObject && classInfo(v.cls.module, v.cls.name).isModule) {
        children.push([name, v]);
      }
    }
    for (let i = children.length - 1; i >= 0; i--) stack.push(children[i]);
  }
  // Tensors named twice (as parameter and buffer) keep their first role, as torch's module tree does.
  return { archive: { zip, prefix, root, storages }, parameters, buffers };
}

/** Parameters then buffers of a TorchScript module, by dotted name, as Python's named_parameters()/named_buffers(). */
export function loadTorchScript(file: string, opts: TorchScriptLoadOptions = {}): OrderedDict<string, Tensor> {
  checkOptions('loadTorchScript', opts, TS_LOAD_OPTIONS);
  const src = openSource(file);
  try {
    const t = parseTorchScript(src);
    const od = new OrderedDict<string, unknown>([...t.parameters, ...t.buffers]);
    return materialize({ ...t.archive, root: od }, (opts.mapLocation ?? 'cpu') as MapLocation) as OrderedDict<string, Tensor>;
  } finally {
    src.close();
  }
}

/** A TorchScript archive's parameter names and tensors only (e.g. to match an optimizer's order). */
export function loadTorchScriptParameters(file: string): OrderedDict<string, Tensor> {
  const src = openSource(file);
  try {
    const t = parseTorchScript(src);
    return materialize({ ...t.archive, root: new OrderedDict<string, unknown>(t.parameters) }, 'cpu') as OrderedDict<string, Tensor>;
  } finally {
    src.close();
  }
}

