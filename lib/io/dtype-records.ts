// How torch.save records dtypes that have no legacy storage class (float8_*, uint16/32/64): the storage
// is a torch.storage.UntypedStorage (a byte count, not an element count) and the tensor is rebuilt by
// torch._utils._rebuild_tensor_v3(storage, offset, size, stride, requires_grad, hooks, dtype), with
// offset and strides in elements of `dtype` (torch/_tensor.py _reduce_ex_internal). Both directions
// live here so the reader and the writer agree on the same table.
import { DType, DTYPE_CODE, DTYPE_SIZE } from '../tensor';
import { PyGlobal, StorageRef } from './values';

/** Dtypes torch.save writes as byte storages + _rebuild_tensor_v3 (no FloatStorage-like class exists). */
export const UNTYPED_STORAGE_DTYPES: ReadonlySet<DType> = new Set<DType>(
  ['uint16', 'uint32', 'uint64', 'float8_e4m3fn', 'float8_e5m2', 'float8_e4m3fnuz', 'float8_e5m2fnuz']);

/** The DType a pickled torch dtype global (torch.float8_e4m3fn) names; undefined when it names none we hold. */
export function dtypeOfGlobal(g: unknown): DType | undefined {
  if (!(g instanceof PyGlobal) || g.module !== 'torch' || !(g.name in DTYPE_CODE)) return undefined;
  return g.name as DType;
}

/**
 * The storage `st` (a byte storage when it is untyped) read as elements of `dtype`, or an error message.
 * The same bytes may be viewed as several dtypes; readers key their caches by key and dtype.
 */
export function storageAs(st: StorageRef, dtype: DType): StorageRef | string {
  if (st.dtype === dtype) return st;
  if (st.dtype !== 'uint8') return `storage '${st.key}' holds ${st.dtype} elements, not untyped bytes to read as ${dtype}`;
  const size = DTYPE_SIZE[dtype];
  if (st.numel % size !== 0) return `storage '${st.key}' has ${st.numel} bytes, not a whole number of ${dtype} elements`;
  return new StorageRef(st.key, dtype, st.numel / size, st.location);
}

/** The storage class global torch.save writes for an untyped storage. */
export const UNTYPED_STORAGE = new PyGlobal('torch.storage', 'UntypedStorage');
