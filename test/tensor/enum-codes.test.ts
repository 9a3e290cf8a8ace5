// Issue 9 item 6: integers that become a dtype, layout or memory format inside callOp are checked; an
// unknown code is refused with a typed error naming the operator and argument (libtorch indexes tables
// with them: -1 or 999 crashed the process intermittently).
import { callOp, DTypeError, OptionError, Tensor, tensor } from '../../lib';

describe('enum codes passed to operators', () => {
  test.each([-1, 999, 1000000])('aten::empty.memory_format refuses dtype %p with a DTypeError', (code) => {
    let err: unknown;
    try { callOp('aten::empty', 'memory_format', [2, 3], code); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(DTypeError);
    expect((err as Error).message).toMatch(new RegExp(`aten::empty.memory_format: argument 'dtype': unknown dtype code ${code}`));
  });
  test('layout and memory_format codes are checked too', () => {
    expect(() => callOp('aten::empty', 'memory_format', [2], null, -3)).toThrow(OptionError);
    expect(() => callOp('aten::empty', 'memory_format', [2], null, 99)).toThrow(/argument 'layout': unknown layout code 99/);
    expect(() => callOp('aten::empty', 'memory_format', [2], null, null, null, null, 7)).toThrow(/argument 'memory_format': unknown memory format code 7/);
    expect(() => callOp('aten::empty', 'memory_format', [2], null, null, null, null, -1)).toThrow(OptionError);
  });
  test('valid codes still work', () => {
    const t = callOp<Tensor>('aten::empty', 'memory_format', [2, 3], 7 /* float64 */, 0, null, null, 0);
    expect(t.dtype).toBe('float64');
    expect(t.shape).toEqual([2, 3]);
    expect(callOp<Tensor>('aten::_to_copy', '', tensor([1.5]), 3 /* int32 */).dtype).toBe('int32');
  });
  test('fromBuffer refuses an unknown dtype code with a DTypeError', () => {
    const { native } = require('../../lib/native');
    expect(() => native.fromBuffer(new Uint8Array(4), 999, [4])).toThrow(DTypeError);
  });
});
