// A model whose leading dims say nothing of where the samples are: a traced time-major encoder that
// transposes [N, T, C] to [T, N, C] before its Linear and LayerNorm, with T equal to the batch size N. The
// activations are then [N, N, C] and the shape alone cannot tell the sample dim; the graph engine must not
// guess (reading dim 0 as the samples gives a wrong Fisher that looks right). Those parameters go to the
// per-parameter fallback, the result equals float64 torch.func, and meta says why.
import * as path from 'path';
import { fisherDiagonal, ScriptModule, Tensor, loadSafetensors } from '../../lib';
import { python, tmpDir } from '../helpers/oracle';

const dir = tmpDir();
const N = 6, T = 6, C = 5, H = 7, K = 3;
python(`
import sys, json, torch, torch.nn as nn, torch.nn.functional as F
from torch.func import functional_call, vmap, grad
from safetensors.torch import save_file
torch.manual_seed(0)
class TimeMajor(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(11, ${C})
        self.proj = nn.Linear(${C}, ${H})
        self.norm = nn.LayerNorm(${H})
        self.head = nn.Linear(${H}, ${K})
    def forward(self, x):
        h = self.emb(x.t())                  # [T, N, C]: time-major from here on
        h = self.norm(torch.tanh(self.proj(h)))
        return self.head(h.mean(0))          # [N, K]
m = TimeMajor().eval()
x = torch.randint(0, 11, (${N}, ${T})); y = torch.randint(0, ${K}, (${N},))
torch.jit.trace(m, (x,)).save(sys.argv[1] + '/tm.jit.pt')
save_file({'x': x, 'y': y}, sys.argv[1] + '/tm_data.safetensors')
md = m.double(); params = {k: v.detach() for k, v in md.named_parameters()}
def loss(p, xi, yi):
    return F.cross_entropy(functional_call(md, p, (xi.unsqueeze(0),)), yi.unsqueeze(0), reduction='sum')
g = vmap(grad(loss), in_dims=(None, 0, 0))(params, x, y)
save_file({k: (v ** 2).sum(0).contiguous() for k, v in g.items()}, sys.argv[1] + '/tm_ref.safetensors')
print(json.dumps({}))`, [dir]);

test('T == N in a time-major model: exact (per-parameter fallback), never samples read from the wrong dim', async () => {
  const m = ScriptModule.load(path.join(dir, 'tm.jit.pt'));
  const d = loadSafetensors(path.join(dir, 'tm_data.safetensors'));
  const ref = loadSafetensors(path.join(dir, 'tm_ref.safetensors'));
  const F = await fisherDiagonal(m, { x: d.get('x')!, y: d.get('y')! }, { variant: 'empirical', batchSize: N });
  expect([...F.keys()].sort()).toEqual([...ref.keys()].sort());
  for (const [k, r] of ref) {
    const got: Tensor = F.get(k)!.to('float64');
    const rel = got.sub(r).norm().item() / Math.max(r.norm().item(), 1e-12);
    expect({ k, ok: rel < 1e-4 ? true : rel }).toEqual({ k, ok: true });
  }
  // The head sees [N, H] (no ambiguity) and stays on the graph engine; the time-major uses say why they left it.
  const why = JSON.stringify(F.meta);
  expect(why).toMatch(/another leading dim/);
  F.dispose();
});
