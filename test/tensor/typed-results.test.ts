// The result types a caller names (toArray<'float32'>, toList's NestedList, callOp<Tensor>) match what
// comes back at run time. The assignments are the type test (tsc --noEmit over the tests, npm pretest).
import { callOp, NestedList, Tensor, tensor } from '../../lib';

test("toArray<'float32'>() is a Float32Array, toArray<'int64'>() a BigInt64Array", () => {
  const f: Float32Array = tensor([1.5, 2.5]).toArray<'float32'>();
  expect(f).toBeInstanceOf(Float32Array);
  expect([...f]).toEqual([1.5, 2.5]);
  const i: BigInt64Array = tensor([3, 4], { dtype: 'int64' }).toArray<'int64'>();
  expect(i).toBeInstanceOf(BigInt64Array);
  expect([...i]).toEqual([3n, 4n]);
});

test('toList() is a NestedList: values of a 0-d tensor, arrays per dimension otherwise', () => {
  const l: NestedList = tensor([[1, 2], [3, 4]]).toList();
  expect(l).toEqual([[1, 2], [3, 4]]);
  const b: NestedList = tensor([true, false], { dtype: 'bool' }).toList();
  expect(b).toEqual([true, false]);
  expect(tensor(5).toList()).toBe(5);
});

test('callOp<Tensor> returns a Tensor', () => {
  const y: Tensor = callOp<Tensor>('aten::relu', '', tensor([-1, 2]));
  expect(y).toBeInstanceOf(Tensor);
  expect(y.toList()).toEqual([0, 2]);
});
