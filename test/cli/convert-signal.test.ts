// SIGINT/SIGTERM while `squisher convert` writes: the hidden temporary file next to the output must not
// be left behind (it was, up to the size of the checkpoint). The signal still ends the process.
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { tmpDir } from '../helpers/oracle';

const dir = tmpDir('squisher-signal-');
const CLI = path.resolve(__dirname, '../../dist/cli/main.js');
const input = path.join(dir, 'big.safetensors');

beforeAll(() => {
  // 96 MiB of float32 zeros in one tensor: long enough to write that a signal lands mid-write.
  const n = 24 << 20;
  let h = Buffer.from(JSON.stringify({ w: { dtype: 'F32', shape: [n], data_offsets: [0, 4 * n] } }));
  h = Buffer.concat([h, Buffer.alloc((8 - (h.length % 8)) % 8, 0x20)]);
  const len = Buffer.alloc(8); len.writeBigUInt64LE(BigInt(h.length));
  const fd = fs.openSync(input, 'w');
  fs.writeSync(fd, len); fs.writeSync(fd, h); fs.ftruncateSync(fd, 8 + h.length + 4 * n);
  fs.closeSync(fd);
});

for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  test(`${sig} during convert leaves no temporary file`, async () => {
    const out = path.join(dir, `out-${sig}.pt`);
    const child = spawn(process.execPath, [CLI, 'convert', input, out], { stdio: 'ignore' });
    const temps = (): string[] => fs.readdirSync(dir).filter((f) => f.startsWith(`.out-${sig}.pt.`) && f.endsWith('.tmp'));
    // Send the signal as soon as the temporary file exists.
    let sent = false;
    const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
    const poll = setInterval(() => { if (!sent && temps().length) { sent = true; child.kill(sig); } }, 1);
    const r = await exited;
    clearInterval(poll);
    expect(sent).toBe(true);
    expect(temps()).toEqual([]);
    // The process ends by the signal (re-raised after cleanup); an output, if any, is complete.
    expect(r.signal).toBe(sig);
    if (fs.existsSync(out)) expect(fs.statSync(out).size).toBeGreaterThan(96 << 20);
  }, 120_000);
}
