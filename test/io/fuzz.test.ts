// Fuzzing the readers: seeded random mutations of real checkpoints (byte flips, truncations, random
// 32-bit values over size/offset fields, spliced and zeroed ranges). Each case must load or throw a
// CheckpointError naming the file: never another exception, a crash, a hang or a huge allocation.
// Every mutation that ever failed that rule is kept in test/io/fuzz-corpus/ and replayed below, as are the
// hand-built hostile files of test/io/hostile/ that once got through (named hostile-*).
import * as fs from 'fs';
import * as path from 'path';
import { CheckpointError, flattenTensors, loadSafetensors } from '../../lib/io';
import { loadTorch } from '../../lib/io/torchsave';
import { Tensor } from '../../lib/tensor';
import { fixture } from '../helpers/oracle';

const SEEDS = Number(process.env.SQUISHER_FUZZ_CASES ?? 3000);
const CORPUS = path.join(__dirname, 'fuzz-corpus');

function rng(seed: number): () => number { // mulberry32
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function mutate(src: Buffer, r: () => number): Buffer {
  const b = Buffer.from(src);
  const at = (): number => Math.floor(r() * b.length);
  const kind = Math.floor(r() * 6);
  switch (kind) {
    case 0: for (let i = 0, n = 1 + Math.floor(r() * 8); i < n; i++) b[at()] ^= 1 << Math.floor(r() * 8); return b;
    case 1: return b.subarray(0, at());
    case 2: { const p = Math.max(0, at() - 4); b.writeUInt32LE(Math.floor(r() * 2 ** 32), p); return b; }
    case 3: { const p = at(); b.fill(0, p, Math.min(b.length, p + 1 + Math.floor(r() * 64))); return b; }
    case 4: { const p = at(); const q = at(); return Buffer.concat([b.subarray(0, p), b.subarray(q, Math.min(b.length, q + 200)), b.subarray(p)]); }
    default: { const p = at(); b[p] = [0x00, 0xff, 0x7f, 0x80][Math.floor(r() * 4)]; if (p + 1 < b.length) b[p + 1] = Math.floor(r() * 256); return b; }
  }
}

let loaded = 0;

/** Loads one mutated file; returns null when the rule holds, else what went wrong. */
function check(buf: Buffer, name: string, safetensors: boolean): string | null {
  try {
    const v = safetensors ? loadSafetensors(buf) : loadTorch(buf, {}, name);
    for (const t of (v instanceof Map && safetensors ? [...v.values()] : [...flattenTensors(v).values()]) as Tensor[]) t.dispose();
    loaded++;
    return null;
  } catch (e) {
    if (e instanceof CheckpointError && (e.message.startsWith(name) || (safetensors && e.message.startsWith('<buffer>')))) return null;
    return `${(e as Error)?.constructor?.name}: ${(e as Error)?.message}`;
  }
}

const SOURCES: [string, boolean][] = [
  ['state_dict.pt', false], ['training.pt', false], ['views.pt', false], ['dtypes.pt', false], ['model.safetensors', true],
];

test(`${SEEDS} seeded mutations of real checkpoints: only clear errors`, () => {
  const failures: string[] = [];
  const bufs = SOURCES.map(([f]) => fs.readFileSync(fixture(`checkpoints/${f}`)));
  const t0 = Date.now();
  for (let seed = 1; seed <= SEEDS; seed++) {
    const r = rng(seed);
    const which = seed % SOURCES.length;
    const m = mutate(bufs[which], r);
    const name = `fuzz-${seed}-${SOURCES[which][0]}`;
    const bad = check(m, name, SOURCES[which][1]);
    if (bad) {
      failures.push(`${name}: ${bad}`);
      fs.mkdirSync(CORPUS, { recursive: true });
      fs.writeFileSync(path.join(CORPUS, name), m); // keep it as a regression case
    }
  }
  expect(failures).toEqual([]);
  // The mutations must bite (most cases rejected) yet not all (some corruptions are harmless data bytes).
  expect(loaded).toBeGreaterThan(SEEDS * 0.01);
  expect(loaded).toBeLessThan(SEEDS * 0.9);
  expect(Date.now() - t0).toBeLessThan(60_000);
});

const kept = fs.existsSync(CORPUS) ? fs.readdirSync(CORPUS) : [];
(kept.length ? describe : describe.skip)('kept fuzz cases', () => {
  for (const f of kept) {
    test(f, () => expect(check(fs.readFileSync(path.join(CORPUS, f)), f, f.endsWith('.safetensors'))).toBeNull());
  }
});
