// TorchScript archives are read by parsing, never by running them: names and values equal what Python
// gives for the loaded module (named_parameters() then named_buffers()), and an archive whose class
// would run code on load (__setstate__ overwriting a file, or looping forever) is refused by load,
// inspect and convert without running it. Only ScriptModule.load runs TorchScript, as in Python.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { CheckpointError, convert, inspect, load, loadTorchScript } from '../../../lib/io';
import { Tensor } from '../../../lib/tensor';
import { fixture, fixtureJson, tmpDir } from '../../helpers/oracle';

const dir = path.dirname(fixture('torchscript/scripted.pt'));
const VICTIM = path.join(dir, 'victim.bin');
const CLI = path.resolve(__dirname, '../../../dist/cli/main.js');
const out = tmpDir('squisher-ts-');
const expected = fixtureJson<Record<string, { params: [string, number[]][]; buffers: [string, number[]][]; state_dict: string[] }>>('torchscript_archives.json');
fs.writeFileSync(VICTIM, 'zzzz');

for (const name of ['scripted', 'traced']) {
  test(`${name}: parameters then buffers equal Python's named_parameters()/named_buffers() of the loaded module`, () => {
    const e = expected[name];
    const sd = loadTorchScript(path.join(dir, `${name}.pt`));
    expect([...sd.keys()]).toEqual([...e.params, ...e.buffers].map(([k]) => k));
    for (const [k, v] of [...e.params, ...e.buffers]) expect([k, sd.get(k)!.flatten().toList()]).toEqual([k, v]);
    // Every name is a state_dict key (a tied weight is listed once, at its first name, as named_parameters does).
    for (const k of sd.keys()) expect(e.state_dict).toContain(k);
    for (const t of sd.values()) t.dispose();
    const r = inspect(path.join(dir, `${name}.pt`));
    expect(r.format).toBe('torchscript');
    expect(r.tensors.map((t) => t.name)).toEqual([...sd.keys()]);
  });
}

for (const name of ['timm_scripted', 'hf_traced']) {
  test(`${name}: a timm / transformers archive parses to what Python's loaded module holds`, () => {
    const e = (expected as any)[name] as { params: [string, number[], number, number[]][]; buffers: [string, number[], number, number[]][] };
    const sd = loadTorchScript(path.join(dir, `${name}.pt`));
    const all = [...e.params, ...e.buffers];
    expect([...sd.keys()]).toEqual(all.map(([k]) => k));
    for (const [k, shape, sum, first] of all) {
      const t = sd.get(k)!;
      const f64 = t.to('float64');
      expect([k, t.shape, f64.flatten().narrow(0, 0, first.length).toList()]).toEqual([k, shape, first]);
      expect(Math.abs((f64.sum().item() as number) - sum)).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(sum)));
      f64.dispose();
    }
    for (const t of sd.values()) t.dispose();
  });
}

test('the scripted case covers what it claims: a tied weight, BatchNorm buffers, ModuleList/ModuleDict, list attributes', () => {
  const names = expected.scripted.params.map(([k]) => k);
  expect(names).not.toContain('tied.weight');
  expect(names).toEqual(expect.arrayContaining(['inner.scale', 'tied.bias', 'ml.0.weight', 'md.k.bias']));
  expect(expected.scripted.buffers.map(([k]) => k)).toEqual(['inner.buf', 'seq.1.running_mean', 'seq.1.running_var', 'seq.1.num_batches_tracked']);
});

test('an archive whose __setstate__ would overwrite a file: load, inspect, convert refuse it and the file is untouched', () => {
  expect((expected as any).payload_live).toBe(true);
  const f = path.join(dir, 'evil_write.pt');
  for (const run of [() => load(f), () => inspect(f), () => convert(f, path.join(out, 'evil.safetensors')), () => loadTorchScript(f)]) {
    let err: unknown;
    try { run(); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(CheckpointError);
    expect((err as Error).message).toMatch(/evil_write\.pt: .*restores its state with its own __setstate__ code.*nothing was run/);
  }
  expect(fs.readFileSync(VICTIM, 'utf8')).toBe('zzzz');
  expect(fs.existsSync(path.join(out, 'evil.safetensors'))).toBe(false);
});

test('an archive whose __setstate__ never returns: the CLI inspect answers at once with an error (run in a child, with a timeout)', () => {
  const r = spawnSync(process.execPath, [CLI, 'inspect', path.join(dir, 'evil_loop.pt')], { encoding: 'utf8', timeout: 60_000 });
  expect(r.signal).toBeNull();
  expect(r.status).not.toBe(0);
  expect(r.stderr).toMatch(/evil_loop\.pt: .*__setstate__/);
});

test('load() of a TorchScript archive gives Tensors, never touching libtorch\'s loader', () => {
  const sd = load(path.join(dir, 'traced.pt')) as Map<string, Tensor>;
  expect(sd.get('1.running_var')).toBeInstanceOf(Tensor);
  for (const t of sd.values()) t.dispose();
});
