// `squisher info`: which libtorch this build uses, and whether CUDA is there.
import { Command } from 'commander';
import { cuda, getNumThreads, torchVersion } from '../../device';

export function registerInfo(program: Command): void {
  program
    .command('info')
    .description('show the libtorch build, CUDA availability and thread count')
    .option('--json', 'machine-readable output')
    .action((o: { json?: boolean }) => {
      const info = {
        libtorch: torchVersion,
        cuda: cuda.isAvailable(),
        cudaDevices: cuda.deviceCount(),
        threads: getNumThreads(),
        node: process.version,
      };
      if (o.json) console.log(JSON.stringify(info));
      else for (const [k, v] of Object.entries(info)) console.log(`${k.padEnd(12)} ${v}`);
    });
}
