// The JS values a checkpoint's pickle becomes, and which the writer turns back into the same pickle.
//
//   Python                 JS
//   dict                   Map (keys keep their type and order: optimizer state's int keys survive)
//   collections.OrderedDict OrderedDict (a Map subclass; `attrs` holds e.g. a state_dict's _metadata)
//   list / tuple           Array / Tuple (an Array subclass, so tuples are written back as tuples)
//   set                    Set
//   int / float            number (bigint when beyond 2^53); a float with an integral value is written
//                          back as an int unless wrapped in PyFloat
//   str / bytes / None     string / Buffer / null
//   torch.Tensor           Tensor (after load) or TensorRef (inspect: metadata only, no data read)
//   torch.float32, ...     PyGlobal (a named Python object that holds no code, written back by name)
import type { DType, Tensor } from '../tensor';
import type { NumpyDType, PyObject } from './inert';

/** A Python tuple. Build one with `tuple(a, b, ...)` (Array's constructor treats one number as a length). */
export class Tuple<T = unknown> extends Array<T> {}
export function tuple<T>(...items: T[]): Tuple<T> {
  const t = new Tuple<T>();
  t.push(...items);
  return t;
}

/** collections.OrderedDict: how PyTorch saves a state_dict. `attrs` are its Python attributes (_metadata). */
export class OrderedDict<K = unknown, V = unknown> extends Map<K, V> {
  attrs?: Map<string, unknown>;
}

/** A Python float to write as a float even when its value is an integer (e.g. lr = 1.0). */
export class PyFloat {
  constructor(readonly value: number) {}
  valueOf(): number { return this.value; }
}

/** A Python complex number. */
export class PyComplex {
  constructor(readonly re: number, readonly im: number) {}
}

/** A named Python global that carries no code (a dtype, a storage class, a layout), kept by name. */
export class PyGlobal {
  constructor(readonly module: string, readonly name: string) {}
  get fullName(): string { return `${this.module}.${this.name}`; }
  toString(): string { return this.fullName; }
}

/** A storage referenced by the pickle: entry `data/<key>` of the archive, `numel` elements of `dtype`. */
export class StorageRef {
  constructor(readonly key: string, readonly dtype: DType, readonly numel: number, readonly location: string) {}
}

/** A tensor described by the pickle, before (or instead of) reading its data. */
export class TensorRef {
  constructor(
    readonly storage: StorageRef,
    readonly offset: number,
    readonly shape: number[],
    readonly strides: number[],
    public requiresGrad: boolean,
    public isParameter = false,
  ) {}
  get dtype(): DType { return this.storage.dtype; }
  get numel(): number { return this.shape.reduce((a, b) => a * b, 1); }
}

/**
 * An object of a TorchScript class (`__torch__.<path>.<Class>`) read from a TorchScript archive's data.pkl:
 * inert, its class only named and its pickled state (for modules, a dict of attributes) kept as data.
 * Nothing of the class's code is run: see torchscript.ts.
 */
export class ScriptObject {
  state: unknown = undefined;
  constructor(readonly cls: PyGlobal) {}
}

/**
 * Any value load() can return: what a checkpoint's pickle becomes (see the table at the top), after
 * its tensors are read. PyObject is an allow-listed class kept as data (LoadOptions.allowGlobals);
 * NumpyDType a numpy dtype pickled on its own (numpy arrays become Tensors). Narrow with instanceof /
 * typeof, or pass it to Module.loadStateDict, which checks at run time that it is a Map of tensors.
 */
export type PyValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Buffer
  | Tensor
  | PyFloat
  | PyComplex
  | PyGlobal
  | ScriptObject
  | PyObject
  | NumpyDType
  | PyValue[]
  | Tuple<PyValue>
  | Map<PyValue, PyValue>
  | OrderedDict<PyValue, PyValue>
  | Set<PyValue>;
