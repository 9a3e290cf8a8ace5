// The demo's dependencies wired to the library: lib/optim's Adam, lib/data's MNIST, lib/fisher's exact
// Fisher, Squisher and comparison, lib/plot's scatter plot.
import { Adam } from '../optim';
import { loadMnist } from '../data';
import { compareDiagonals, fisherDiagonal } from '../fisher';
import { squisher } from '../fisher/squisher';
import { scatterPng, scatterSvg } from '../plot';
import { Tensor } from '../tensor';
import { AdamLike, DemoDeps } from './deps';
import { writeText } from './plot-file';

function flat(d: Map<string, Tensor>, names: string[]): Float64Array {
  const parts = names.map((n) => d.get(n)!.to('float64').cpu().toArray() as Float64Array);
  const out = new Float64Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

export function defaultDeps(): DemoDeps {
  return {
    adam: (model, lr) => new Adam(model, { lr }) as unknown as AdamLike,
    mnist: (split, limit) => loadMnist({ split, limit }),
    squisher: (opt, o) => squisher(opt as unknown as Adam,
      o.scale === 'sum' ? { batchSize: o.batchSize, datasetSize: o.datasetSize } : { batchSize: o.batchSize }),
    fisher: (model, data, o) => fisherDiagonal(model, data, { variant: 'exact', reduction: o.reduction, batchSize: o.batchSize, signal: o.signal }),
    compare: (a, b) => {
      const c = compareDiagonals(a, b).overall;
      return { pearson: c.pearson, spearman: c.spearman, top1: c.topk['1%'], top10: c.topk['10%'], relL2: c.relL2, scale: c.scale };
    },
    plot: (x, y, file, l) => {
      const names = [...x.keys()].filter((n) => y.has(n));
      const xs = flat(x, names), ys = flat(y, names), opts = { title: l.title, xLabel: l.x, yLabel: l.y };
      writeText(file, /\.png$/i.test(file) ? scatterPng(xs, ys, opts) : scatterSvg(xs, ys, opts));
    },
  };
}
