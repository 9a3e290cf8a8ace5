// An HTTP service over squisher with Fastify: load a TorchScript model once, predict, take the Squisher of an
// uploaded optimizer state (no forward or backward pass), and run an exact Fisher pass that streams its
// progress. Errors map to HTTP statuses by class (`err.status`), not by message text.
//
//   MODEL=model.pt npx ts-node examples/service/server.ts      (or build it; tested by test/examples/service.test.ts)
//
// Endpoints:
//   POST /predict   {"input": [[...], ...]}                      -> {"output": [[...], ...]}
//   POST /squisher  body: a torch.save'd optimizer state_dict   -> {"meta": {...}, "params": {name: {shape, sum}}}
//                   (Content-Type application/octet-stream; ?batchSize=B)
//   POST /fisher    {"x": [[...]], "y": [...], "batchSize": 32}  -> NDJSON: {"done","total","phase"} lines, then
//                   {"result": {name: {shape, sum}}}
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import Fastify, { FastifyInstance } from 'fastify';
import { ScriptModule, SquisherError, FisherDiagonal, fisherDiagonal, squisher, Tensor, tensor, tidy } from 'squisher';

export interface ServiceOptions { modelPath: string; logger?: boolean; }

function summary(d: FisherDiagonal): Record<string, { shape: number[]; sum: number }> {
  const out: Record<string, { shape: number[]; sum: number }> = {};
  for (const [name, t] of d) out[name] = { shape: t.shape, sum: tidy(() => t.sum().item()) };
  return out;
}

export function createService(o: ServiceOptions): FastifyInstance {
  const model = ScriptModule.load(o.modelPath);
  model.eval();
  const app = Fastify({ logger: o.logger ?? false, bodyLimit: 256 * 1024 * 1024 });
  // Optimizer states arrive as raw bytes (what torch.save wrote).
  app.addContentTypeParser('application/octet-stream', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  // squisher's errors carry the status a service should answer with (OptionError 400, CheckpointError 422, ...).
  app.setErrorHandler((err: Error, _req, reply) => {
    const status = err instanceof SquisherError ? err.status : (err as { statusCode?: number }).statusCode ?? 500;
    void reply.status(status).send({ error: err.name, message: err.message });
  });
  app.addHook('onClose', async () => { model.dispose(); });

  app.post<{ Body: { input: number[][] } }>('/predict', async (req) => {
    const x = tensor(req.body.input);
    try {
      const y = await model.forwardAsync<Tensor>(x);   // on a worker thread: the event loop keeps serving
      try { return { output: y.toList() }; } finally { y.dispose(); }
    } finally { x.dispose(); }
  });

  app.post<{ Body: Buffer; Querystring: { batchSize?: string } }>('/squisher', async (req) => {
    // squisher() reads files (zip archives are read by offset); the upload goes to a private temp file.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'squisher-upload-'));
    const file = path.join(dir, 'optimizer.pt');
    try {
      fs.writeFileSync(file, req.body);
      const batchSize = req.query.batchSize === undefined ? undefined : Number(req.query.batchSize);
      const d = squisher({ file, model }, batchSize === undefined ? {} : { batchSize });
      try { return { meta: d.meta, params: summary(d) }; } finally { for (const t of d.values()) t.dispose(); }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  app.post<{ Body: { x: number[][]; y: number[]; batchSize?: number } }>('/fisher', async (req, reply) => {
    const x = tensor(req.body.x), y = tensor(req.body.y, { dtype: 'int64' });
    const ac = new AbortController();
    reply.raw.on('close', () => { if (!reply.raw.writableFinished) ac.abort(); });   // client gone: stop the pass
    reply.raw.writeHead(200, { 'content-type': 'application/x-ndjson' });
    try {
      const d = await fisherDiagonal(model, { x, y }, {
        batchSize: req.body.batchSize ?? 32, signal: ac.signal,
        onProgress: (p) => { reply.raw.write(`${JSON.stringify({ done: p.done, total: p.total, phase: p.phase })}\n`); },
      });
      reply.raw.write(`${JSON.stringify({ result: summary(d) })}\n`);
      for (const t of d.values()) t.dispose();
    } catch (e) {
      // Headers are sent: the error is the stream's last line.
      const err = e as Error;
      reply.raw.write(`${JSON.stringify({ error: err.name, message: err.message, status: err instanceof SquisherError ? err.status : 500 })}\n`);
    } finally {
      x.dispose(); y.dispose();
      reply.raw.end();
    }
    return reply;
  });
  return app;
}

if (require.main === module) {
  const modelPath = process.env.MODEL;
  if (!modelPath) { console.error('set MODEL=path/to/torchscript.pt'); process.exit(2); }
  const app = createService({ modelPath, logger: true });
  app.listen({ port: Number(process.env.PORT ?? 3000), host: process.env.HOST ?? '127.0.0.1' }).catch((e) => { console.error(e); process.exit(1); });
}
