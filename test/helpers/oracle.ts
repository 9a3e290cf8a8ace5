// Test helpers: run Python PyTorch (the oracle) and find generated fixtures.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

export const FIXTURES = path.resolve(__dirname, '..', 'fixtures', 'generated');

export function fixture(name: string): string {
  const p = path.join(FIXTURES, name);
  if (!fs.existsSync(p)) throw new Error(`fixture ${name} missing: scripts/fixtures did not produce it`);
  return p;
}

export function fixtureJson<T = any>(name: string): T {
  return JSON.parse(fs.readFileSync(fixture(name), 'utf8'));
}

function oraclePython(): string {
  if (process.env.SQUISHER_ORACLE_PYTHON) return process.env.SQUISHER_ORACLE_PYTHON;
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  return require('../../scripts/oracle').findPython();
}

/** Runs Python code with torch available; returns its stdout parsed as JSON (the code must print JSON). */
export function python<T = any>(code: string, args: string[] = []): T {
  const r = spawnSync(oraclePython(), ['-c', code, ...args], { encoding: 'utf8', maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`python failed:\n${r.stderr}`);
  const lines = r.stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]);
}

export function tmpDir(prefix = 'squisher-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Max |a-b| over two equal-length numeric arrays. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length mismatch ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
