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
    .version(packageVersion(), '-V, --version', 'print the squisher version');
  for (const register of commands) register(program);
  // An extra argument is a mistake (a forgotten option name, a glob that matched twice), not something to drop.
  for (const c of program.commands) c.allowExcessArguments(false);
  return program;
}

/** The command a usage error came from ('squisher', 'squisher prune'), for the --help hint. */
const usageOf = new WeakMap<CommanderError, string>();

/** One line: "squisher: unknown option '--bogus' (see 'squisher info --help')". */
export function usageLine(e: CommanderError): string {
  const msg = e.message.replace(/^error:\s*/, '').replace(/\s*\n\s*/g, ' ').trim().replace(/\.$/, '');
  return `squisher: ${msg} (see '${usageOf.get(e) ?? 'squisher'} --help')`;
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
  // Throw instead of exiting, in every subcommand too, so the exit code is decided in one place; each
  // command notes itself on its usage errors, which are printed below as one line, not by commander.
  const override = (c: Command, path: string): void => {
    c.exitOverride((err) => {
      if (err.code === 'commander.executeSubCommandAsync') return;
      usageOf.set(err, path);
      throw err;
    });
    c.commands.forEach((sub) => override(sub, `${path} ${sub.name()}`));
  };
  override(program, 'squisher');
  program.configureOutput({ outputError: () => undefined });   // the subcommands share this configuration
  try {
    await program.parseAsync(argv);
  } catch (e) {
    // The library's errors name the file, key, shape or dtype, so print just that. Commander's own usage
    // errors: one line with a pointer to --help. Help and --version (exit 0), and the help printed when no
    // command is given, have already been written.
    if (!(e instanceof CommanderError)) process.stderr.write(`${errorLine(e)}\n`);
    else if (e.exitCode !== 0 && e.code !== 'commander.help') process.stderr.write(`${usageLine(e)}\n`);
    process.exitCode = exitCodeFor(e);
  }
}

if (require.main === module) void main();
