// The subcommands, in the order `squisher --help` lists them.
import { Command } from 'commander';
import { registerInfo } from './info';
import { registerInspect } from './inspect';
import { registerConvert } from './convert';
import { registerPrune } from './prune';
import { registerMerge } from './merge';
import { registerDemo } from './demo';
import { registerFisher } from './fisher';
import { registerSquisher } from './squisher';
import { registerCompare } from './compare';

export const commands: ((program: Command) => void)[] = [
  registerDemo, registerFisher, registerSquisher, registerCompare, registerPrune, registerMerge,
  registerInspect, registerConvert, registerInfo,
];
