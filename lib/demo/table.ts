// The demo's results as text tables (what `squisher demo` prints and the README quotes).
import { DemoResult } from './run';

const pct = (v: number) => `${(100 * v).toFixed(1)}%`;
const f3 = (v: number) => v.toFixed(3);

function table(header: string[], rows: string[][]): string {
  const w = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => '| ' + r.map((c, i) => (i === 0 ? c.padEnd(w[i]) : c.padStart(w[i]))).join(' | ') + ' |';
  return [line(header), '|' + w.map((x, i) => (i === 0 ? '-'.repeat(x + 2) : '-'.repeat(x + 1) + ':')).join('|') + '|', ...rows.map(line)].join('\n');
}

export function formatResults(r: DemoResult): string {
  const c = r.config;
  const m = r.main;
  const out: string[] = [];
  out.push(`squisher demo (${c.name}, ${r.device}): MLP 784-${c.hidden}-${c.hidden}-10, Adam lr ${c.lr}, batch ${c.batchSize}; ` +
    `${c.trainN} training examples × ${c.epochs} epoch(s), ${c.testN} test examples, exact Fisher over ${c.fisherN} examples`);
  out.push('');
  out.push(`1. Squisher vs exact Fisher (dense test accuracy ${pct(m.denseAccuracy)}; training ${m.trainSeconds.toFixed(1)} s, ` +
    `Squisher ${(1000 * m.squisherSeconds).toFixed(0)} ms, exact Fisher ${m.fisherSeconds.toFixed(1)} s)`);
  out.push(table(['measure', 'value'], [
    ['Pearson r', f3(m.comparison.pearson)], ['Spearman ρ', f3(m.comparison.spearman)],
    ['top-1% overlap', pct(m.comparison.top1)], ['top-10% overlap', pct(m.comparison.top10)],
    ['rel. L2 error after best scale', f3(m.comparison.relL2)], ['best scale (Fisher ≈ s·Squisher)', m.comparison.scale.toPrecision(3)],
  ]));
  if (r.plotFile) out.push(`scatter plot: ${r.plotFile}`);
  out.push('');
  out.push('2. Pruning (global, Linear weights, no fine-tuning): test accuracy');
  out.push(table(['sparsity', 'Squisher', 'Fisher', 'magnitude', 'random'],
    m.pruning.map((p) => [pct(p.sparsity), pct(p.acc.squisher), pct(p.acc.fisher), pct(p.acc.magnitude), pct(p.acc.random)])));
  out.push('');
  const L = m.laplace;
  out.push(`2b. Last-layer diagonal Laplace (layer ${L.layer}; δ by marginal likelihood; probit predictive): test calibration`);
  const lrow = (name: string, c: typeof L.map) => [name, pct(c.accuracy), c.nll.toFixed(4), c.ece.toFixed(4), c.priorPrecision === undefined ? '-' : c.priorPrecision.toPrecision(3)];
  out.push(table(['predictive', 'accuracy', 'NLL', 'ECE', 'δ'], [lrow('Laplace, Squisher', L.squisher), lrow('Laplace, Fisher', L.fisher), lrow('MAP (no Laplace)', L.map)]));
  out.push('');
  const s = r.split.runs;
  out.push(`3. Task-incremental split MNIST, 5 tasks, EWC λ=${r.split.lambda}: mean accuracy over tasks after the last (per task)`);
  out.push(table(['penalty', 'mean', 'per task'], (['squisher', 'fisher', 'none'] as const).map((k) =>
    [k === 'none' ? 'none' : k === 'squisher' ? 'EWC, Squisher' : 'EWC, Fisher', pct(s[k].mean), s[k].perTask.map((a) => (100 * a).toFixed(1)).join(' ')])));
  out.push('');
  const g = r.merge;
  out.push(`4. Merging two fine-tuned models (digits 0-4 and 5-9) from one base: 10-digit test accuracy ` +
    `(base ${pct(g.base)}, 0-4 model ${pct(g.modelA)}, 5-9 model ${pct(g.modelB)})`);
  out.push(table(['merge', 'accuracy'], [['Fisher-weighted, Squisher', pct(g.squisher)], ['Fisher-weighted, Fisher', pct(g.fisher)], ['plain average', pct(g.average)]]));
  out.push('');
  out.push(`total ${r.seconds.total.toFixed(1)} s (main ${r.seconds.main.toFixed(1)} s, split MNIST ${r.seconds.split.toFixed(1)} s, merging ${r.seconds.merge.toFixed(1)} s)`);
  return out.join('\n');
}
