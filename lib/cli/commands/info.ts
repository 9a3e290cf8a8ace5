// `squisher info`: which libtorch this build uses (version, CPU/CUDA, where it was loaded from), the
// devices and threads it sees, and where the addon lives: the first thing to paste into a bug report.
import { Command } from 'commander';
import { buildInfo } from '../../device';

export function registerInfo(program: Command): void {
  program
    .command('info')
    .description('show the libtorch version and build (CPU/CUDA), devices, threads, and where the addon and libtorch live')
    .option('--json', 'machine-readable output')
    .action((o: { json?: boolean }) => {
      const info = { ...buildInfo(), node: process.version };
      if (o.json) { console.log(JSON.stringify(info)); return; }
      const show = (v: unknown) => (Array.isArray(v) ? v.join(', ') : String(v));
      for (const [k, v] of Object.entries(info)) console.log(`${k.padEnd(13)} ${show(v)}`);
    });
}
