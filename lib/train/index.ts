// Training: fit (epochs over a DataLoader with progress, abort, per-epoch loss/accuracy) and evaluate.
export { fit, evaluate } from './fit';
export type { FitOptions, FitProgress, EpochResult, EvalOptions, EvalResult, LossFn, StepOptimizer, StepScheduler } from './fit';
