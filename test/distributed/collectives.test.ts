// c10d from Node: 2 and 3 Gloo ranks on the loopback address (child processes) all-reduce, broadcast and
// meet at a barrier; a rank that dies or hangs makes the others fail with a DistributedError naming it.
import { spawnSync } from 'child_process';
import * as path from 'path';
import { runRanks, WORKERS } from './helpers';

// eslint-disable-next-line @typescript-eslint/no-var-requires
const oraclePython = (): string => process.env.SQUISHER_ORACLE_PYTHON ?? require('../../scripts/oracle').findPython();

describe('process group (Gloo, loopback)', () => {
  // 2 ranks: the torchrun case below.
  test.each([3])('%i ranks: allReduce sums, broadcast copies the root, barrier returns', async (n) => {
    const r = await runRanks(n, 'collectives.js', ['ok']);
    expect(r.ok).toBe(true);
    const sum1 = (n * (n + 1)) / 2, sum10 = (10 * n * (n - 1)) / 2;
    for (let k = 0; k < n; k++) {
      expect(r.results[k]).toMatchObject({ rank: k, W: n, sum: [sum1, sum10, 0.5 * n], bcast: [n - 1, n - 1, n - 1, n - 1], strided: [n, 3 * n, 2 * n, 4 * n], busy: k < n - 1 ? 'BusyError' : null });
      // Waiting 1 s for the late rank did not block the event loop (a 50 ms timer kept firing).
      if (k < n - 1) expect(r.results[k].waitTicks).toBeGreaterThanOrEqual(5);
    }
  });

  test('under PyTorch\'s own torchrun (its agent hosts the store): the same sums', () => {
    const r = spawnSync(oraclePython(), ['-m', 'torch.distributed.run', '--standalone', '--nproc-per-node=2', '--no-python',
      process.execPath, path.join(WORKERS, 'collectives.js'), 'ok'], { encoding: 'utf8', timeout: 90_000 });
    expect(r.status).toBe(0);
    const results = r.stdout.split('\n').filter((l) => l.startsWith('RESULT ')).map((l) => JSON.parse(l.slice(7)));
    expect(results.sort((a, b) => a.rank - b.rank)).toMatchObject([0, 1].map((k) => ({ rank: k, W: 2, sum: [3, 10, 1], bcast: [1, 1, 1, 1], strided: [2, 6, 4, 8] })));
  });

  test('a rank that dies: the others get a DistributedError naming it', async () => {
    const r = await runRanks(3, 'collectives.js', ['die']);
    expect(r.ok).toBe(false);
    expect(r.exits[2].code).toBe(3);
    for (const k of [0, 1]) {
      const e = r.results[k]?.error;
      expect(e).toBeTruthy();
      expect(e.name).toBe('DistributedError');
      expect(e.rank).toBe(2);
      expect(e.message).toMatch(/rank 2 died/);
    }
  });

  test('a rank that hangs: the others stop after the timeout with a DistributedError naming it', async () => {
    const t0 = Date.now();
    const r = await runRanks(2, 'collectives.js', ['hang'], { env: { TEST_TIMEOUT_MS: '3000' }, graceMs: 1000 });
    const e = r.results[0]?.error;
    expect(e).toBeTruthy();
    expect(e.name).toBe('DistributedError');
    expect(e.rank).toBe(1);
    expect(e.message).toMatch(/rank 1 did not reach collective #5 within 3000 ms \(at #4/);
    expect(r.exits[0].code).toBe(1);
    // The launcher stopped the hung rank after the grace period (it would have slept 60 s).
    expect(r.stoppedBy).toBe('failure');
    expect(Date.now() - t0).toBeLessThan(50_000);
  });
});
