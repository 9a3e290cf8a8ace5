// The subcommands, in the order `squisher --help` lists them.
import { Command } from 'commander';
import { registerInfo } from './info';

export const commands: ((program: Command) => void)[] = [registerInfo];
