// The CLI side of distributed runs: `--nproc-per-node N` re-runs the same subcommand as N local workers
// with `--distributed` (through the launcher), and a worker joins the group torchrun's variables describe.
import * as fs from 'fs';
import * as path from 'path';
import { AbortError, DistributedError, OptionError } from '../errors';
import { describeExit, launch } from './launcher';

/** The CLI entry a worker runs: main.js beside this build (dist/), or dist's when running from sources. */
export function cliEntry(): string {
  const here = path.resolve(__dirname, '..', 'cli', 'main.js');
  if (fs.existsSync(here)) return here;
  const dist = path.resolve(__dirname, '..', '..', 'dist', 'cli', 'main.js');
  if (fs.existsSync(dist)) return dist;
  throw new OptionError(`cannot find the squisher CLI to launch workers with (looked for ${here} and ${dist}); build it with npx tsc -p tsconfig.build.json`);
}

/** Commander's parsed options back into flags (camelCase -> --kebab-case), minus `omit`. */
export function optionsToArgs(o: Record<string, unknown>, omit: string[] = []): string[] {
  const args: string[] = [];
  for (const [k, v] of Object.entries(o)) {
    if (omit.includes(k) || v === undefined || v === false) continue;
    const flag = '--' + k.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
    if (v === true) args.push(flag);
    // one flag per value: right for a repeatable option (--allow-global a --allow-global b) and for a variadic one
    else if (Array.isArray(v)) for (const x of v) args.push(flag, String(x));
    else args.push(flag, String(v));
  }
  return args;
}

/** Parses --nproc-per-node. */
export function nprocOption(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new OptionError(`--nproc-per-node must be a positive integer, got '${v}'`);
  return n;
}

/**
 * Runs `squisher <args>` as `nproc` local workers (each with --distributed and torchrun's variables) and
 * waits for all of them; throws naming the first rank that failed, or saying the run was interrupted.
 */
export async function runLocalWorkers(nproc: number, args: string[]): Promise<void> {
  const r = await launch({ nproc, args: [cliEntry(), ...args, '--distributed'] });
  if (r.ok) return;
  if (r.stoppedBy === 'interrupt') throw new AbortError('interrupted: every worker was stopped; nothing was written');
  throw new DistributedError(`${r.firstFailure ? describeExit(r.firstFailure) : 'a worker failed'}; ` +
    `${r.exits.filter((e) => e.code !== 0).length} of ${nproc} workers failed (their messages are above)`);
}
