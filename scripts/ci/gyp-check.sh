#!/usr/bin/env bash
# Builds the addon a second way, with node-gyp from binding.gyp, in a scratch copy of the tree (node-gyp
# owns build/, as cmake-js does), then loads it and runs one op, so binding.gyp cannot silently rot.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$root"
git ls-files -z | xargs -0 cp --parents -t "$tmp"
ln -s "$root/node_modules" "$tmp/node_modules"
export LIBTORCH
LIBTORCH=$(node scripts/install/libtorch.js --root)
cd "$tmp"
JOBS=${SQUISHER_BUILD_JOBS:-$(nproc)} npm run build:gyp -- --jobs="${SQUISHER_BUILD_JOBS:-$(nproc)}"
node -e "
const n = require('./build/Release/squisher.node');
const a = n.fromBuffer(new Float32Array([1, 2, 3]), 6, [3]);
const s = n.callOp(n.findOp('aten::sum', ''), a);
if (n.item(s) !== 6) { console.error('node-gyp build computed', n.item(s)); process.exit(1); }
console.log('binding.gyp build OK: libtorch', n.torchVersion, ', sum([1,2,3]) =', n.item(s));
"
