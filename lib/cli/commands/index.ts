// The subcommands, in the order `squisher --help` lists them.
import { Command } from 'commander';
import { registerInfo } from './info';
import { registerInspect } from './inspect';
import { registerConvert } from './convert';
import { registerPrune } from './prune';
import { registerMerge } from './merge';

export const commands: ((program: Command) => void)[] = [registerInfo, registerInspect, registerConvert, registerPrune, registerMerge];
