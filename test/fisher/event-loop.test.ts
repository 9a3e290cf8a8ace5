// A Fisher pass of a TorchScript model runs each batch on libuv's worker pool: the event loop keeps
// turning during the pass (a 1 ms interval fires), and the numbers equal the same computation on the JS
// thread. The delay itself (perf_hooks.monitorEventLoopDelay) is measured and printed, not asserted:
// its target (<= 20 ms) belongs to the benchmark (scripts/bench/fisher.js), not to a test.
import { monitorEventLoopDelay } from 'perf_hooks';
import { fisherDiagonal, ScriptModule } from '../../lib';
import { loadSafetensors } from '../../lib/io';
import { fixture } from '../helpers/oracle';

test('graph engine off the event loop: timers fire during the pass, same numbers as on the JS thread', async () => {
  const m = ScriptModule.load(fixture('real_rescnn.jit.pt'));
  const d = loadSafetensors(fixture('real_rescnn_data.safetensors'));
  const data = { x: d.get('x')!.repeat([4, 1, 1, 1]), y: d.get('y')!.repeat([4]) };
  const o = { variant: 'exact' as const, batchSize: 8 };
  let ticks = 0;
  const timer = setInterval(() => { ticks++; }, 1);
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  const worker = await fisherDiagonal(m, data, o);
  h.disable();
  clearInterval(timer);
  const js = await fisherDiagonal(m, data, { ...o, thread: 'js' });
  console.log(`event-loop delay during the worker pass: max ${(h.max / 1e6).toFixed(1)} ms, p99 ${(h.percentile(99) / 1e6).toFixed(1)} ms; ${ticks} ticks of a 1 ms timer`);
  expect(ticks).toBeGreaterThan(0);
  expect([...worker.keys()]).toEqual([...js.keys()]);
  for (const [k, t] of js) expect(worker.get(k)!.sub(t).abs().max().item()).toBeLessThanOrEqual(1e-6 * t.abs().max().item());
});
