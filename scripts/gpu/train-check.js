'use strict';
// CUDA training benchmark (run by scripts/gpu/check.sh): the same MLP and CNN steps in Node and in the
// machine's Python torch on the GPU, same weights and batches; prints the time ratio and whether the
// final losses are equal (on CUDA PyTorch's Adam uses its foreach kernels, Node the single-tensor path,
// so equality there is reported, not assumed).
const path = require('path');
const { spawnSync } = require('child_process');
const r = spawnSync(process.execPath, [path.join(__dirname, '..', 'bench', 'train.js'), '--device', 'cuda', '--steps', '40', '--repeats', '3'],
  { stdio: 'inherit' });
process.exit(r.status ?? 1);
