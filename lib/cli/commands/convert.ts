// `squisher convert IN OUT [--overwrite]`: torch.save (.pt/.pth/.bin) <-> .safetensors, by OUT's extension.
import { Command } from 'commander';
import { convert } from '../../io';
import { allowGlobalOption } from '../allow-global';

export function registerConvert(program: Command): void {
  allowGlobalOption(program
    .command('convert <input> <output>'))
    .description('convert between torch.save files (.pt/.pth/.bin) and .safetensors, by the output extension')
    .option('--overwrite', 'replace OUTPUT if it exists')
    .action((input: string, output: string, o: { overwrite?: boolean; allowGlobal?: string[] }) => {
      const r = convert(input, output, { overwrite: !!o.overwrite, allowGlobals: o.allowGlobal });
      console.log(`${output}: wrote ${r.tensors} tensors`);
      // safetensors holds only tensors: say what was left out rather than dropping it silently.
      if (r.dropped.length) console.error(`note: ${r.dropped.length} non-tensor values not written: ${r.dropped.slice(0, 8).join(', ')}${r.dropped.length > 8 ? ', ...' : ''}`);
    });
}
