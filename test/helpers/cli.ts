// Runs the squisher CLI in-process (commander with exitOverride, so a usage error throws instead of
// exiting) and captures what it prints: stdout lines, and stderr (console.error and progress output).
import { buildProgram } from '../../lib/cli/main';

export async function runCli(...args: string[]): Promise<{ out: string; err: string }> {
  const lines: string[] = [];
  const errs: string[] = [];
  const log = jest.spyOn(console, 'log').mockImplementation((...a) => { lines.push(a.join(' ')); });
  const err = jest.spyOn(console, 'error').mockImplementation((...a) => { errs.push(a.join(' ')); });
  const w = jest.spyOn(process.stderr, 'write').mockImplementation((s: any) => { errs.push(String(s)); return true; });
  try {
    await buildProgram().exitOverride().parseAsync(['node', 'squisher', ...args]);
  } finally {
    log.mockRestore(); err.mockRestore(); w.mockRestore();
  }
  return { out: lines.join('\n'), err: errs.join('\n') };
}

/** runCli's stdout only. */
export async function runCliOut(...args: string[]): Promise<string> {
  return (await runCli(...args)).out;
}
