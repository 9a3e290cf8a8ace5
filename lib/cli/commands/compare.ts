// `squisher compare A.safetensors B.safetensors [--plot out.svg|out.png] [--json]`: how alike two Fisher
// diagonals are (B is the reference), per tensor and overall, with an optional log-log scatter plot.
import * as fs from 'fs';
import { Command } from 'commander';
import { compareDiagonals, Similarity } from '../../fisher/compare';
import { writeAtomic } from '../../io/atomic';
import { loadStateDict } from '../../io';
import { allowGlobalOption } from '../allow-global';
import { scatterPng, scatterSvg } from '../../plot';
import { cat, Tensor } from '../../tensor/tensor';
import { dispose, tidy } from '../../tensor/scope';
import { OptionError } from '../../errors';

interface CompareCli { allowGlobal?: string[]; plot?: string; json?: boolean; topk: string; overwrite?: boolean; }

function row(name: string, s: Similarity): string[] {
  return [name, String(s.n), s.pearson.toFixed(4), s.spearman.toFixed(4), s.relL2.toExponential(3), s.scale.toPrecision(5),
    ...Object.values(s.topk).map((v) => v.toFixed(3))];
}

export function registerCompare(program: Command): void {
  allowGlobalOption(program
    .command('compare <a> <b>'))
    .description('compare two Fisher diagonals: Pearson, Spearman, relative L2 after best scale, top-k overlap (b is the reference)')
    .option('--plot <file>', 'write a log-log scatter plot of a (x) against b (y): .svg or .png')
    .option('--topk <percents>', 'top-k overlaps to report, in percent', '1,5,10')
    .option('--overwrite', 'replace the plot file if it exists')
    .option('--json', 'print the full comparison as JSON')
    .action((a: string, b: string, o: CompareCli) => {
      if (o.plot && !/\.(svg|png)$/i.test(o.plot)) throw new OptionError(`--plot ${o.plot}: use a .svg or .png file name`);
      if (o.plot && !o.overwrite && fs.existsSync(o.plot)) throw new OptionError(`${o.plot} exists; pass --overwrite to replace it`);
      const fracs = o.topk.split(',').map((s) => Number(s) / 100);
      const A = loadStateDict(a, { allowGlobals: o.allowGlobal }), B = loadStateDict(b, { allowGlobals: o.allowGlobal });
      try {
        const c = compareDiagonals(A, B, { topk: fracs });
        if (o.plot) {
          const names = Object.keys(c.perTensor);
          const [xs, ys] = tidy(() => [A, B].map((m) => cat(names.map((n) => (m.get(n) as Tensor).flatten().to('float64').cpu())).toArray() as Float64Array));
          const opts = { title: 'Fisher diagonals (log-log)', xLabel: a, yLabel: b };
          const bytes = /\.png$/i.test(o.plot) ? scatterPng(xs, ys, opts) : Buffer.from(scatterSvg(xs, ys, opts));
          writeAtomic(o.plot, { overwrite: !!o.overwrite }, (fd) => fs.writeSync(fd, bytes));
        }
        if (o.json) { console.log(JSON.stringify({ a, b, ...c })); return; }
        const head = ['tensor', 'n', 'pearson', 'spearman', 'relL2', 'scale', ...Object.keys(c.overall.topk).map((k) => `top${k}`)];
        const rows = [...Object.entries(c.perTensor).map(([k, s]) => row(k, s)), row('(overall)', c.overall)];
        const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
        const fmt = (r: string[]) => r.map((x, i) => x.padEnd(w[i])).join('  ');
        console.log([fmt(head), w.map((n) => '-'.repeat(n)).join('  '), ...rows.map(fmt)].join('\n'));
        if (c.onlyInA.length || c.onlyInB.length) console.log(`only in ${a}: ${c.onlyInA.join(', ') || '-'}; only in ${b}: ${c.onlyInB.join(', ') || '-'}`);
        if (o.plot) console.log(`plot: ${o.plot}`);
      } finally {
        dispose(A); dispose(B);
      }
    });
}
