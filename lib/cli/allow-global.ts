// `--allow-global NAME` (repeatable), shared by every command that reads checkpoints: the CLI twin of
// load(file, { allowGlobals }) and of torch.serialization.add_safe_globals. Named objects are read as
// inert data (lib/io/inert.ts): nothing in the file is ever called.
import { Command } from 'commander';

export function allowGlobalOption(cmd: Command): Command {
  return cmd.option('--allow-global <name>',
    "trust this Python global (e.g. argparse.Namespace, numpy.core.multiarray._reconstruct) and read it as inert data; repeatable",
    (v: string, prev: string[] = []) => [...prev, v]);
}
