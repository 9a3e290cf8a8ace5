// The pure rules under the distributed runs: reading torchrun's variables, and the sharding that must
// count every example (or, for 'batched', every single-process batch) exactly once across the ranks.
import { OptionError } from '../../lib/errors';
import { rendezvousFrom } from '../../lib/distributed/env';
import { batchRanges, exampleIndices } from '../../lib/distributed/shard';
import { assignByIndex } from '../../lib/distributed/sharded';

test('rendezvous: torchrun variables, explicit options first, clear errors', () => {
  const env = { RANK: '2', WORLD_SIZE: '4', LOCAL_RANK: '1', MASTER_ADDR: 'host0', MASTER_PORT: '29500' };
  expect(rendezvousFrom({}, env)).toEqual({ rank: 2, worldSize: 4, localRank: 1, masterAddr: 'host0', masterPort: 29500 });
  expect(rendezvousFrom({ rank: 0, masterPort: 1234 }, env)).toMatchObject({ rank: 0, masterPort: 1234 });
  // One process per pod: no LOCAL_RANK means the first device.
  expect(rendezvousFrom({}, { ...env, LOCAL_RANK: undefined }).localRank).toBe(0);
  expect(() => rendezvousFrom({}, { ...env, WORLD_SIZE: undefined })).toThrow(OptionError);
  expect(() => rendezvousFrom({}, { ...env, WORLD_SIZE: undefined })).toThrow(/WORLD_SIZE is not set/);
  expect(() => rendezvousFrom({}, { ...env, RANK: '4' })).toThrow(/RANK must be an integer in \[0, 3\], got '4'/);
  expect(() => rendezvousFrom({}, { ...env, MASTER_PORT: '70000' })).toThrow(/MASTER_PORT must be an integer in \[1, 65535\]/);
  expect(() => rendezvousFrom({}, { ...env, MASTER_ADDR: '' })).toThrow(/MASTER_ADDR is not set/);
});

test('sharding: every example once (no DistributedSampler padding), every batch once, every tensor once', () => {
  for (const n of [0, 1, 5, 16, 17, 90]) {
    for (const W of [1, 2, 3, 4, 7]) {
      const ex = Array.from({ length: W }, (_, r) => exampleIndices(n, { rank: r, worldSize: W })).flat().sort((a, b) => a - b);
      expect(ex).toEqual(Array.from({ length: n }, (_, i) => i));
      for (const B of [1, 4, 16]) {
        const rs = Array.from({ length: W }, (_, r) => batchRanges(n, B, { rank: r, worldSize: W })).flat().sort((a, b) => a[0] - b[0]);
        // exactly the single-process batches [0,B), [B,2B), ...
        expect(rs).toEqual(Array.from({ length: Math.ceil(n / B) }, (_, b) => [b * B, Math.min(b * B + B, n)]));
      }
      const names = Array.from({ length: n }, (_, i) => `t${i}`);
      expect(Array.from({ length: W }, (_, r) => assignByIndex(names, r, W)).flat().sort()).toEqual([...names].sort());
    }
  }
  // DistributedSampler(shuffle=False) order: rank r takes r, r+W, ...
  expect(exampleIndices(10, { rank: 1, worldSize: 3 })).toEqual([1, 4, 7]);
});
