// The oracle for training: the first 40 steps of a shuffled MNIST epoch (MLP 784-400-400-10, Adam lr 1e-3,
// batch 128; same initial weights from Python, same batch order) give losses equal to PyTorch's, step for
// step. Bit-exact across two processes: test/setup/determinism.js pins both to one thread. The full epoch
// (>= 96% test accuracy) is in test/e2e/.
import * as path from 'path';
import * as fs from 'fs';
import { data, load, nn, optim, crossEntropy, tidy, Tensor, getNumThreads } from '../../lib';
import { python, tmpDir } from '../helpers/oracle';

const mlp = () => new nn.Sequential(new nn.Flatten(), new nn.Linear(784, 400), new nn.ReLU(), new nn.Linear(400, 400), new nn.ReLU(), new nn.Linear(400, 10));
const dir = tmpDir();
const init = path.join(dir, 'init.pt'), orderFile = path.join(dir, 'order.json');
const trainSet = data.loadMnist({ split: 'train' });
const loader = new data.DataLoader(trainSet, { batchSize: 128, shuffle: true, seed: 0 });
fs.writeFileSync(orderFile, JSON.stringify(Array.from(loader.order(0))));

const ref = python(`
import sys, json, torch, torch.nn as nn, torch.nn.functional as F
sys.path.insert(0, 'scripts/bench')
from train import make, mnist
torch.manual_seed(1)
m = make('mlp'); torch.save(m.state_dict(), sys.argv[1])
x, y = mnist('train'); order = torch.tensor(json.load(open(sys.argv[2])))
opt = torch.optim.Adam(m.parameters(), lr=1e-3); losses = []
for s in range(40):
    i = order[s*128:(s+1)*128]
    opt.zero_grad(); l = F.cross_entropy(m(x[i]), y[i]); l.backward(); opt.step(); losses.append(l.item())
print(json.dumps({'losses': losses}))`, [init, orderFile]);

test('libtorch runs single-threaded here, as the Python oracle does (test/setup/determinism.js)', () => {
  expect(getNumThreads()).toBe(1);
  expect(process.env.MKL_DYNAMIC).toBe('FALSE');
});

test('the first 40 steps of the epoch equal PyTorch loss for loss', () => {
  const model = mlp();
  model.loadStateDict(load(init) as Map<string, Tensor>);
  const adam = new optim.Adam(model, { lr: 1e-3 });
  const it = loader.batches(0);
  const losses: number[] = [];
  for (let s = 0; s < 40; s++) {
    const b = it.next().value!;
    losses.push(tidy(() => {
      adam.zeroGrad();
      const l = crossEntropy(model.call(b.x), b.y);
      l.backward();
      adam.step();
      b.x.dispose(); b.y.dispose();
      return l.item();
    }));
  }
  it.return(undefined);
  expect(losses).toEqual(ref.losses);
});
