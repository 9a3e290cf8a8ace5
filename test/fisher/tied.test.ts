// A Fisher of a model whose embedding is reused as its output layer (one parameter, two names, as GPT-2's
// wte / lm_head): one entry, under the first name, whose per-sample gradient sums both uses, equal to
// torch.func over the Python module (where named_parameters() lists the parameter once). Before, each
// name got only its own use's gradient: two entries, both wrong.
import { fisherDiagonal, ScriptModule } from '../../lib';
import { loadSafetensors } from '../../lib/io';
import { fixture } from '../helpers/oracle';

const R = (p: string) => fixture(`trainer_runs/${p}`);

test.each(['empirical', 'batched'] as const)('%s Fisher of a tied embedding/head: one entry, equal to torch.func', async (variant) => {
  const model = ScriptModule.load(R('tied_lm.jit.pt'));
  const data = loadSafetensors(R('tied_lm_data.safetensors'));
  const F = await fisherDiagonal(model, { x: data.get('x')!, y: data.get('y')! }, { variant, device: 'cpu' });
  const ref = loadSafetensors(R(`tied_lm_${variant}.safetensors`));
  expect([...F.keys()]).toEqual(['emb.weight', 'mid.weight', 'mid.bias']);  // named_parameters() order, the tied one once
  expect([...ref.keys()].sort()).toEqual([...F.keys()].sort());
  for (const [n, t] of ref) {
    const rel = F.get(n)!.sub(t).abs().max().item() / t.abs().max().item();
    expect(rel).toBeLessThan(1e-5);
  }
  // the graph engine: both uses of the tied weight (lookup and output layer) on the fast path
  if (variant === 'empirical') expect(JSON.parse(String(F.meta.engineParams))['emb.weight']).toMatch(/^fast \(aten::(embedding|linear), aten::(embedding|linear)\)$/);
});
