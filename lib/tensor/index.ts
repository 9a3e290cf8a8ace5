export * from './dtype';
export * from './tensor';
export * from './create';
export { tidy, keep, dispose } from './scope';
export { op, schema } from './ops';
