// `squisher demo [--device cpu|cuda] [--quick] [--json]`: trains an MLP on MNIST with Adam, takes the Squisher
// for free, computes the exact Fisher, compares them (numbers and a scatter plot), and runs the paper's
// comparisons at small scale: pruning, split-MNIST EWC, Fisher merging. Prints a results table; with --json,
// the results as JSON on stdout (as every command's --json: `> results.json` to keep them) and the table,
// for the person watching a run of minutes, on stderr.
import { Command } from 'commander';
import { resolveDevice } from '../../device';
import { runDemo, formatResults } from '../../demo';
import { defaultDeps } from '../../demo/defaults';
import { freshPath } from '../../demo/plot-file';
import { progress } from '../progress';
import { OptionError } from '../../errors';

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('the Squisher vs the exact Fisher on MNIST: correlation, pruning, split-MNIST EWC, merging (a few minutes; --quick under one)')
    .option('--device <d>', 'cpu or cuda', 'cpu')
    .option('--quick', 'smaller runs (under a minute on a laptop CPU)')
    .option('--plot <file>', 'scatter plot of the Squisher against the Fisher (.svg or .png; never replaces a file: a -1, -2 suffix is added)', 'squisher-demo.svg')
    .option('--json', 'print the results as JSON on stdout (the table goes to stderr)')
    .action(async (o: { device: string; quick?: boolean; plot: string; json?: boolean }) => {
      if (!/\.(svg|png)$/i.test(o.plot)) throw new OptionError(`--plot ${o.plot}: use a .svg or .png file name`);
      const device = resolveDevice(o.device);
      const plotFile = freshPath(o.plot);
      const ac = new AbortController();
      const onSig = () => ac.abort();
      process.once('SIGINT', onSig);
      let bar = progress('demo');
      let stage = '';
      try {
        const r = await runDemo(defaultDeps(), {
          quick: !!o.quick, device, plotFile, signal: ac.signal,
          onProgress: (p) => {
            if (p.stage !== stage) { bar.stop(); bar = progress(p.stage); stage = p.stage; }
            bar.update(p.done, p.total);
          },
        });
        bar.stop();
        if (o.json) {
          process.stderr.write(`${formatResults(r)}\n`);
          console.log(JSON.stringify(r, null, 2));
        } else console.log(formatResults(r));
      } finally {
        bar.stop();
        process.removeListener('SIGINT', onSig);
      }
    });
}
