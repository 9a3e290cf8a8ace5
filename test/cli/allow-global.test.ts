// --allow-global NAME on every command that reads a torch.save file (inspect, convert, compare, prune, merge,
// squisher, fisher's --data): files written by PyTorch that hold an argparse.Namespace (as timm's training
// checkpoints do) are refused by default, naming the flag (torch.load(weights_only=True) refuses them too), and
// read with it, the object as inert data. Run through the built CLI, so exit codes are the real ones.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { loadSafetensors } from '../../lib/io';
import { python, tmpDir } from '../helpers/oracle';

const cli = path.resolve(__dirname, '..', '..', 'dist', 'cli', 'main.js');
const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });
const ALLOW = ['--allow-global', 'argparse.Namespace'];

let d = '';
const f = (n: string): string => path.join(d, n);
// What Python's Adam holds as exp_avg_sq, by parameter name, and whether torch.load(weights_only=True) refuses
// the files without add_safe_globals (the default this CLI follows).
let py: { v: Record<string, number[]>; torchRefuses: boolean };

beforeAll(() => {
  d = tmpDir('allow-global-');
  py = python(`import sys, os, json, argparse, torch
d = sys.argv[1]
ns = argparse.Namespace(model="mlp", lr=0.01, epochs=1)
torch.manual_seed(0)
def mlp(): return torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))
a, b = mlp(), mlp()
opt = torch.optim.Adam(a.parameters(), lr=0.01)
x, y = torch.randn(8, 4), torch.randint(0, 2, (8,))
for _ in range(2):
    opt.zero_grad(); torch.nn.functional.cross_entropy(a(x), y).backward(); opt.step()
torch.save({"state_dict": a.state_dict(), "args": ns}, os.path.join(d, "a.pt"))
torch.save({"state_dict": b.state_dict(), "args": ns}, os.path.join(d, "b.pt"))
fisher = lambda m: {k: v.detach().square() + 1e-3 for k, v in m.state_dict().items()}
torch.save({"state_dict": fisher(a), "args": ns}, os.path.join(d, "fa.pt"))
torch.save({"state_dict": fisher(b), "args": ns}, os.path.join(d, "fb.pt"))
# a timm-style training checkpoint: weights, optimizer and the argparse args
torch.save({"epoch": 1, "arch": "mlp", "state_dict": a.state_dict(), "optimizer": opt.state_dict(), "args": ns}, os.path.join(d, "ckpt.pth"))
torch.save({"x": x, "y": y, "args": ns}, os.path.join(d, "data.pt"))
torch.jit.script(a).save(os.path.join(d, "model.ts.pt"))
names = [n for n, _ in a.named_parameters()]
v = {names[i]: s["exp_avg_sq"].flatten().tolist() for i, s in opt.state_dict()["state"].items()}
try:
    torch.load(os.path.join(d, "a.pt"), weights_only=True); refuses = False
except Exception:
    refuses = True
print(json.dumps({"v": v, "torchRefuses": refuses}))`, [d]);
});
afterAll(() => fs.rmSync(d, { recursive: true, force: true }));

// Each command: its arguments (without the flag) and a check of what it wrote or printed with the flag.
const commands: [string, () => string[], (out: string) => void][] = [
  ['inspect', () => ['inspect', f('a.pt'), '--json'], (out) => {
    expect(JSON.parse(out).objects).toEqual([{ name: 'args', cls: 'argparse.Namespace' }]);
  }],
  ['convert', () => ['convert', f('a.pt'), f('a.safetensors')], () => {
    expect([...loadSafetensors(f('a.safetensors')).keys()]).toEqual(['state_dict.0.weight', 'state_dict.0.bias', 'state_dict.2.weight', 'state_dict.2.bias']);
  }],
  ['compare', () => ['compare', f('fa.pt'), f('fb.pt'), '--json'], (out) => {
    expect(Object.keys(JSON.parse(out).perTensor)).toHaveLength(4);
  }],
  ['prune', () => ['prune', '--model', f('a.pt'), '--method', 'magnitude', '--sparsity', '0.5', '--out', f('p.safetensors'), '--json'], (out) => {
    expect(JSON.parse(out).pruned).toEqual(['state_dict.0.weight', 'state_dict.2.weight']);
  }],
  ['merge', () => ['merge', f('a.pt'), f('b.pt'), '--fisher', f('fa.pt'), f('fb.pt'), '--out', f('m.safetensors')], () => {
    expect(loadSafetensors(f('m.safetensors')).size).toBe(4);
  }],
  ['squisher', () => ['squisher', '--optimizer', f('ckpt.pth'), '--out', f('s.safetensors')], () => {
    const s = loadSafetensors(f('s.safetensors'));
    // the names of the checkpoint's model (its state_dict), with Python's exp_avg_sq under each
    expect([...s.keys()]).toEqual(Object.keys(py.v));
    for (const [n, v] of Object.entries(py.v)) {
      const got = Array.from(s.get(n)!.toArray() as Float32Array);
      got.forEach((g, i) => expect(g).toBeCloseTo(v[i]!, 12));
    }
  }],
  ['squisher (--model file)', () => ['squisher', '--optimizer', f('ckpt.pth'), '--model', f('a.pt'), '--out', f('s2.safetensors')], () => {
    expect(loadSafetensors(f('s2.safetensors')).size).toBe(4);
  }],
  ['fisher (--data file)', () => ['fisher', '--model', f('model.ts.pt'), '--data', f('data.pt'), '--out', f('F.safetensors')], () => {
    expect([...loadSafetensors(f('F.safetensors')).keys()]).toEqual(['0.weight', '0.bias', '2.weight', '2.bias']);
  }],
];

test('torch.load(weights_only=True) refuses these files too without add_safe_globals', () => {
  expect(py.torchRefuses).toBe(true);
});

describe.each(commands)('%s', (_name, args, check) => {
  test('refused without --allow-global (exit 1, naming the global and the flag); read with it', () => {
    const no = run(...args());
    expect(no.status).toBe(1);
    expect(no.stderr).toMatch(/^squisher: .*refused global 'argparse\.Namespace'.*--allow-global argparse\.Namespace/);
    const yes = run(...args(), ...ALLOW);
    expect({ status: yes.status, stderr: yes.stderr }).toEqual({ status: 0, stderr: expect.any(String) });
    check(yes.stdout);
  });
});
