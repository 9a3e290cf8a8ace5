// Plots for the CLI and reports.
export { scatterSvg, scatterPng } from './scatter';
export type { ScatterOptions } from './scatter';
