// examples/service (Fastify) on localhost, port 0: predict equals PyTorch's output for the same TorchScript
// model; the Squisher of an uploaded torch.save'd Adam state and a streamed Fisher pass equal the library's
// own answers in this process; errors map to statuses by class (a corrupt upload is 422, a bad option 400).
import * as fs from 'fs';
import * as path from 'path';
import type { FastifyInstance } from 'fastify';
import { createService } from '../../examples/service/server';
import { fisherDiagonal, ScriptModule, squisher, tensor } from '../../lib';
import { python, tmpDir } from '../helpers/oracle';

const dir = tmpDir();
const modelPath = path.join(dir, 'mlp.pt'), optPath = path.join(dir, 'adam.pt');
const ref = python<{ x: number[][]; y: number[]; out: number[][] }>(`import sys, json, torch
torch.manual_seed(0)
m = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
x = torch.randn(10, 4); y = torch.randint(0, 3, (10,))
opt = torch.optim.Adam(m.parameters(), lr=1e-2)
for _ in range(3):
    opt.zero_grad(); torch.nn.functional.cross_entropy(m(x), y).backward(); opt.step()
torch.save(opt.state_dict(), sys.argv[2])
s = torch.jit.script(m); s.save(sys.argv[1])
with torch.no_grad(): out = m(x)
print(json.dumps({'x': x.tolist(), 'y': y.tolist(), 'out': out.tolist()}))`, [modelPath, optPath]);

let app: FastifyInstance;
let base: string;
beforeAll(async () => {
  app = createService({ modelPath });
  base = await app.listen({ port: 0, host: '127.0.0.1' });
});
afterAll(async () => { await app.close(); });

test('POST /predict: the TorchScript model\'s output, as PyTorch computes it', async () => {
  const r = await fetch(`${base}/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ input: ref.x }) });
  expect(r.status).toBe(200);
  const { output } = await r.json() as { output: number[][] };
  const flat = output.flat(), want = ref.out.flat();
  expect(flat.length).toBe(want.length);
  for (let i = 0; i < want.length; i++) expect(Math.abs(flat[i]! - want[i]!)).toBeLessThan(1e-5);
});

test('POST /squisher: an uploaded Adam state gives the same Squisher as the library', async () => {
  const r = await fetch(`${base}/squisher?batchSize=10`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: fs.readFileSync(optPath) });
  expect(r.status).toBe(200);
  const body = await r.json() as { params: Record<string, { shape: number[]; sum: number }> };
  const model = ScriptModule.load(modelPath);
  const d = squisher({ file: optPath, model }, { batchSize: 10 });
  expect(Object.keys(body.params)).toEqual([...d.keys()]);
  for (const [name, t] of d) expect(body.params[name]).toEqual({ shape: t.shape, sum: t.sum().item() });
});

test('POST /fisher streams { done, total, phase } lines, then the Fisher the library computes', async () => {
  const r = await fetch(`${base}/fisher`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ x: ref.x, y: ref.y, batchSize: 4 }) });
  expect(r.status).toBe(200);
  expect(r.headers.get('content-type')).toBe('application/x-ndjson');
  const lines = (await r.text()).trim().split('\n').map((l) => JSON.parse(l));
  const progress = lines.slice(0, -1), last = lines[lines.length - 1];
  expect(last.error).toBeUndefined();
  expect(progress.length).toBeGreaterThan(1);
  for (const p of progress) expect(p).toEqual({ done: expect.any(Number), total: 10, phase: expect.any(String) });
  expect(progress.map((p) => p.done)).toEqual([...progress.map((p) => p.done)].sort((a, b) => a - b));
  expect(progress[progress.length - 1].done).toBe(10);
  const model = ScriptModule.load(modelPath);
  model.eval();
  const d = await fisherDiagonal(model, { x: tensor(ref.x), y: tensor(ref.y, { dtype: 'int64' }) }, { batchSize: 4 });
  expect(Object.keys(last.result)).toEqual([...d.keys()]);
  for (const [name, t] of d) {
    expect(last.result[name].shape).toEqual(t.shape);
    expect(Math.abs(last.result[name].sum - t.sum().item())).toBeLessThanOrEqual(1e-6 * Math.abs(t.sum().item()));
  }
});

test('errors map to statuses by class: a corrupt upload is 422 (CheckpointError), a bad option 400 (OptionError)', async () => {
  const bad = await fetch(`${base}/squisher`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: Buffer.from('not a checkpoint') });
  expect(bad.status).toBe(422);
  expect(await bad.json()).toMatchObject({ error: 'CheckpointError', message: expect.stringMatching(/optimizer\.pt/) });
  // After the stream has started, the error is its last line, with the same status.
  const f = await fetch(`${base}/fisher`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ x: ref.x, y: ref.y, batchSize: 0 }) });
  expect(JSON.parse((await f.text()).trim().split('\n').pop()!)).toMatchObject({ error: 'OptionError', status: 400, message: expect.stringMatching(/batchSize/) });
});
