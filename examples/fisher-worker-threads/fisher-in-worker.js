'use strict';
// A Fisher pass of a TS-built (JavaScript/TypeScript nn.Module) model in a worker thread. TorchScript
// models need none of this: fisherDiagonal already runs each of their batches on libuv's pool. A TS-built
// model's forward is JavaScript, so it runs on the thread that calls it; a worker_threads Worker keeps
// that off the main thread, whose event loop (a web service's) stays free.
//
//   const { fisherInWorker } = require('./fisher-in-worker');
//   const meta = await fisherInWorker({ model: require.resolve('./model'), weights: 'w.safetensors',
//     data: 'd.safetensors', out: 'F.safetensors', options: { variant: 'exact', batchSize: 64 },
//     onProgress: (p) => console.log(p.done, p.total) });
//
// `model` is a module exporting build(): the architecture (weights come from `weights`, a safetensors
// state dict); `data` holds tensors x and y. The Fisher is written to `out` (safetensors, metadata in the
// header); the promise resolves with its metadata. Tensors cannot cross threads, files can.
const path = require('path');
const { Worker, isMainThread, parentPort, workerData } = require('worker_threads');

const LIB = process.env.SQUISHER_LIB || path.resolve(__dirname, '..', '..');  // the package root (dist/)

function fisherInWorker({ model, weights, data, out, options = {}, onProgress, signal }) {
  return new Promise((resolve, reject) => {
    const w = new Worker(__filename, { workerData: { model, weights, data, out, options } });
    const abort = () => { w.terminate(); reject(new Error('fisherInWorker: aborted')); };
    signal?.addEventListener('abort', abort, { once: true });
    w.on('message', (m) => {
      if (m.progress) onProgress?.(m.progress);
      if (m.done) resolve(m.done);
    });
    w.on('error', reject);
    w.on('exit', (code) => {
      signal?.removeEventListener('abort', abort);
      if (code !== 0) reject(new Error(`fisherInWorker: the worker exited with code ${code}`));
    });
  });
}

async function workerMain() {
  const sq = require(LIB);
  const { model, weights, data, out, options } = workerData;
  const m = require(model).build();
  m.loadStateDict(sq.loadSafetensors(weights));
  const d = sq.loadSafetensors(data);
  const F = await sq.fisherDiagonal(m, { x: d.get('x'), y: d.get('y') }, {
    ...options, onProgress: (p) => parentPort.postMessage({ progress: p }),
  });
  F.save(out, { overwrite: true });
  parentPort.postMessage({ done: F.meta });
}

if (!isMainThread) workerMain().catch((e) => { throw e; });
module.exports = { fisherInWorker };
