// ESM entry point (`import { tensor } from 'squisher'`). The library is compiled once, as CommonJS; this
// wrapper re-exports it so ESM and CJS users share one instance of the addon and of every class
// (`instanceof SquisherError` works across both). Node finds the names in dist/index.js statically.
import squisher from '../dist/index.js';

export * from '../dist/index.js';
export default squisher;
