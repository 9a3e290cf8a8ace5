// `squisher demo --quick --json` end to end on real MNIST: the table's structure (on stderr with --json), the
// plot, the JSON (alone on stdout, as every command's --json), and only what is robustly true of the measurements (a working dense model; random pruning at 90% far below Fisher and
// Squisher pruning; the Squisher positively correlated with the Fisher). No paper claim is asserted.
import * as fs from 'fs';
import * as path from 'path';
import { buildProgram } from '../../lib/cli/main';
import { tmpDir } from '../helpers/oracle';

test('demo --quick --json: the JSON on stdout, the result tables on stderr, the scatter plot in a new file', async () => {
  const d = tmpDir();
  const plot = path.join(d, 'scatter.svg');
  fs.writeFileSync(plot, 'an earlier plot');  // must not be replaced
  const lines: string[] = [];
  const errs: string[] = [];
  const log = jest.spyOn(console, 'log').mockImplementation((...a) => { lines.push(a.join(' ')); });
  const err = jest.spyOn(process.stderr, 'write').mockImplementation((s) => { errs.push(String(s)); return true; });
  try {
    await buildProgram().exitOverride().parseAsync(['node', 'squisher', 'demo', '--quick', '--plot', plot, '--json']);
  } finally { log.mockRestore(); err.mockRestore(); }
  const out = errs.join('');
  for (const h of ['1. Squisher vs exact Fisher', '2. Pruning', '2b. Last-layer diagonal Laplace', '3. Task-incremental split MNIST', '4. Merging']) expect(out).toContain(h);
  expect(out).toMatch(/\| 90\.0%\s+\|\s+[\d.]+% \|\s+[\d.]+% \|\s+[\d.]+% \|\s+[\d.]+% \|/);
  expect(fs.readFileSync(plot, 'utf8')).toBe('an earlier plot');
  const svg = path.join(d, 'scatter-1.svg');
  expect(out).toContain(`scatter plot: ${svg}`);
  expect(fs.readFileSync(svg, 'utf8')).toMatch(/^<svg[\s\S]*<\/svg>\s*$/);

  // stdout holds the JSON and nothing else
  const r = JSON.parse(lines.join('\n'));
  expect(r.plotFile).toBe(svg);
  expect(r.config.name).toBe('quick');
  expect(r.main.denseAccuracy).toBeGreaterThan(0.9);
  expect(out).toContain(`dense test accuracy ${(100 * r.main.denseAccuracy).toFixed(1)}%`);
  expect(r.main.pruning.map((p: any) => p.sparsity)).toEqual([0.5, 0.75, 0.9]);
  const p90 = r.main.pruning[2].acc;
  expect(p90.random).toBeLessThan(p90.fisher - 0.2);
  expect(p90.random).toBeLessThan(p90.squisher - 0.2);
  expect(r.main.comparison.pearson).toBeGreaterThan(0.5);
  expect(r.main.comparison.spearman).toBeGreaterThan(0.5);
  for (const k of ['map', 'squisher', 'fisher']) {
    const c = r.main.laplace[k];
    expect(c.accuracy).toBeGreaterThan(0.5);
    expect(Number.isFinite(c.nll) && c.nll > 0).toBe(true);
    expect(c.ece).toBeGreaterThanOrEqual(0);
    if (k !== 'map') expect(c.priorPrecision).toBeGreaterThan(0);
  }
  for (const k of ['none', 'squisher', 'fisher']) {
    expect(r.split.runs[k].perTask).toHaveLength(5);
    expect(r.split.runs[k].mean).toBeGreaterThan(0.5);
  }
  for (const k of ['average', 'squisher', 'fisher']) expect(r.merge[k]).toBeGreaterThan(0.5);
}, 300000);
