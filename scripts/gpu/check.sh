#!/usr/bin/env bash
# One prepared run on a CUDA machine (see ../../README.md "Platforms" and ../shared/device/README.md):
# builds the addon against that machine's libtorch, then runs every scripts/gpu/*.js, writing results
# under $OUT (or ./gpu-results). Send .gpu/, node_modules and dist/ along (the machine has no npm).
set -uo pipefail
cd "$(dirname "$0")/../.."
out=${OUT:-gpu-results}
mkdir -p "$out"
source .gpu/gpu-env.sh
# The machine's torch is found through Torch_DIR (set by gpu-env.sh); never reuse a .node built elsewhere.
rm -rf build
node scripts/install/install.js 2>&1 | tail -5 | tee "$out/build.log"
for f in scripts/gpu/*.js; do
  echo "=== $f" | tee -a "$out/results.txt"
  timeout 240 node "$f" 2>&1 | tee -a "$out/results.txt"
done
