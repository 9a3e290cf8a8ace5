#!/usr/bin/env bash
# The package as a user gets it: `npm pack`, install the tarball into a new project, move that project to
# another folder, then `require('squisher')` and `npx squisher demo --quick` there. Catches a tarball that
# lacks a file the install or the runtime needs, and an addon that only loads from where it was built.
# The install reuses the libtorch found or cached by the repository's own `npm install` (no download).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$root"
tarball=$(npm pack --silent --pack-destination "$tmp" | tail -n 1)
echo "pack-check: $tarball ($(du -h "$tmp/$tarball" | cut -f1)), $(tar -tzf "$tmp/$tarball" | wc -l) files"
# Nothing for development only may ship.
if tar -tzf "$tmp/$tarball" | grep -E '^package/(test|scripts/(bench|gpu|fixtures)|\.ci|examples)/|\.map$'; then
  echo "pack-check: the tarball holds development files (above)"; exit 1
fi
mkdir "$tmp/app"
cd "$tmp/app"
echo '{ "name": "pack-check-app", "version": "1.0.0", "private": true }' > package.json
SQUISHER_BUILD_JOBS=${SQUISHER_BUILD_JOBS:-$(nproc)} npm install --no-audit --no-fund --loglevel=error "$tmp/$tarball"
cd "$tmp"
mv app moved-app
cd moved-app
node -e "
const s = require('squisher');
const t = s.tensor([1, 2, 3]);
if (t.sum().item() !== 6) { console.error('sum([1,2,3]) !=', t.sum().item()); process.exit(1); }
console.log('pack-check: require(\"squisher\") from the moved folder: libtorch', s.torchVersion);
"
node --input-type=module -e "
import { tensor, torchVersion } from 'squisher';
if (tensor([2, 3]).sum().item() !== 5) process.exit(1);
console.log('pack-check: import from ESM works, libtorch', torchVersion);
"
npx --no-install squisher --version
npx --no-install squisher demo --quick --plot "$tmp/demo.png"
echo "pack-check: OK"
