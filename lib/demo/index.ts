// `squisher demo`: the Squisher paper's comparisons at small scale on MNIST, from Node.
export { runDemo } from './run';
export type { DemoOptions, DemoResult } from './run';
export { formatResults } from './table';
export { QUICK, FULL } from './config';
export type { DemoConfig } from './config';
export type { DemoDeps, AdamLike, Comparison } from './deps';
