// Runs a scenario in a child `node` process, so that a crash (SIGSEGV, abort) fails the test that caused
// it instead of killing jest. The script gets `sq` (the built library, dist/) and `native` in scope.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const ROOT = path.resolve(__dirname, '..', '..');
/** The built library (dist/index.js, made by `npm test`'s pretest); children and workers require it. */
export const DIST = path.join(ROOT, 'dist', 'index.js');
export const DIST_NATIVE = path.join(ROOT, 'dist', 'native.js');

export interface ChildResult { status: number | null; signal: string | null; stdout: string; stderr: string; }

/** Runs `code` (CommonJS, may use top-level await inside the async wrapper) in a fresh node process. */
export function runNode(code: string, timeoutMs = 90_000): ChildResult {
  if (!fs.existsSync(DIST)) throw new Error(`${DIST} missing: build the library first (npx tsc -p tsconfig.build.json)`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'squisher-child-'));
  const file = path.join(dir, 'scenario.js');
  fs.writeFileSync(file, `'use strict';
const sq = require(${JSON.stringify(DIST)});
const { native } = require(${JSON.stringify(DIST_NATIVE)});
(async () => {
${code}
})().then(() => process.exit(0), (e) => { console.error('scenario failed:', e && e.stack || e); process.exit(3); });
`);
  try {
    const r = spawnSync(process.execPath, [file], { encoding: 'utf8', timeout: timeoutMs, killSignal: 'SIGKILL' });
    return { status: r.status, signal: r.signal, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** A readable summary for failed expectations: how the child ended and the tail of its output. */
export function describeChild(r: ChildResult): string {
  return `status ${r.status} signal ${r.signal}\nstdout: ${r.stdout.slice(-2000)}\nstderr: ${r.stderr.slice(-2000)}`;
}
