// End to end (npm run test:e2e): MLP 784-400-400-10, Adam lr 1e-3, batch 128, one shuffled MNIST epoch
// from Node reaches >= 96% test accuracy, from the same initial weights as test/train/mnist.test.ts.
import * as path from 'path';
import { data, load, nn, optim, train, Tensor } from '../../lib';
import { python, tmpDir } from '../helpers/oracle';

const mlp = () => new nn.Sequential(new nn.Flatten(), new nn.Linear(784, 400), new nn.ReLU(), new nn.Linear(400, 400), new nn.ReLU(), new nn.Linear(400, 10));
const dir = tmpDir();
const init = path.join(dir, 'init.pt');
const trainSet = data.loadMnist({ split: 'train' });
const loader = new data.DataLoader(trainSet, { batchSize: 128, shuffle: true, seed: 0 });

python(`
import sys, json, torch
sys.path.insert(0, 'scripts/bench')
from train import make
torch.manual_seed(1)
torch.save(make('mlp').state_dict(), sys.argv[1])
print(json.dumps({}))`, [init]);

test('one epoch with train.fit reaches >= 96% test accuracy', async () => {
  const model = mlp();
  model.loadStateDict(load(init) as Map<string, Tensor>);
  const res = await train.fit(model, new optim.Adam(model, { lr: 1e-3 }), loader, { epochs: 1, evalData: data.loadMnist({ split: 'test' }) });
  expect(res[0].evalAccuracy).toBeGreaterThanOrEqual(0.96);
  expect(res[0].accuracy).toBeGreaterThan(0.9);
}, 600000);
