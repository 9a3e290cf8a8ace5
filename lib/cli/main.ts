#!/usr/bin/env node
// The `squisher` command. Each subcommand lives in commands/<name>.ts and registers itself here.
import { Command } from 'commander';
import { commands } from './commands';

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('squisher')
    .description('PyTorch checkpoints, Adam state and Fisher information diagonals from Node.js (libtorch inside)')
    .showHelpAfterError()
    .configureOutput({ outputError: (s, write) => write(s) });
  for (const register of commands) register(program);
  return program;
}

export async function main(argv: string[] = process.argv): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (e) {
    // Errors from the library already name the file, key, shape or dtype; print just that.
    process.stderr.write(`squisher: ${(e as Error).message}\n`);
    process.exitCode = 1;
  }
}

if (require.main === module) void main();
