#!/usr/bin/env node
// The `squisher` command. Each subcommand lives in commands/<name>.ts and registers itself here.
// Exit codes: 0 success, 1 a failure while working (bad file, libtorch error), 2 a usage error (unknown
// command or option, a missing or invalid argument), as most Unix tools do.
import * as fs from 'fs';
import * as path from 'path';
import { Command, CommanderError } from 'commander';
import { commands } from './commands';
import { OptionError } from '../errors';

/** The package's version, from its package.json (dist/cli/main.js -> ../../package.json). */
export function packageVersion(): string {
  const pkg = path.resolve(__dirname, '..', '..', 'package.json');
  return (JSON.parse(fs.readFileSync(pkg, 'utf8')) as { version: string }).version;
}

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('squisher')
    .description('PyTorch checkpoints, Adam state and Fisher information diagonals from Node.js (libtorch inside)')
    .version(packageVersion(), '-V, --version', 'print the squisher version')
    .showHelpAfterError()
    .configureOutput({ outputError: (s, write) => write(s) });
  for (const register of commands) register(program);
  return program;
}

/** The message without the "squisher: " prefixes that an inner layer may already have added. */
export function errorLine(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return `squisher: ${msg.replace(/^(squisher:\s*)+/, '')}`;
}

/** 2 for usage errors (commander's own, and OptionError from an option's value), else 1. */
export function exitCodeFor(e: unknown): number {
  if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2;
  if (e instanceof OptionError) return 2;
  return 1;
}

export async function main(argv: string[] = process.argv): Promise<void> {
  const program = buildProgram();
  // Throw instead of exiting, in every subcommand too, so the exit code is decided in one place.
  const override = (c: Command): void => { c.exitOverride(); c.commands.forEach(override); };
  override(program);
  try {
    await program.parseAsync(argv);
  } catch (e) {
    // Commander has printed its own usage message (and help); the library's errors name the file, key,
    // shape or dtype, so print just that.
    if (!(e instanceof CommanderError)) process.stderr.write(`${errorLine(e)}\n`);
    process.exitCode = exitCodeFor(e);
  }
}

if (require.main === module) void main();
