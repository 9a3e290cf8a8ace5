require('./test/setup/determinism');

/** @type {import('jest').Config} */
module.exports = {
  preset: 'ts-jest',
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  // The long end-to-end runs (a full MNIST epoch, the demo) are `npm run test:e2e` (jest.e2e.config.js).
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/e2e/'],
  // examples/ import the package by its name, as users do: the compiled build (npm test builds it first).
  moduleNameMapper: { '^squisher$': '<rootDir>/dist/index.js' },
  globalSetup: '<rootDir>/test/setup/global-setup.js',
  testTimeout: 120000,
  // libtorch's own thread pools make parallel jest workers slower, not faster, on small machines.
  maxWorkers: 2,
  transform: { '^.+\\.ts$': ['ts-jest', { diagnostics: { warnOnly: false } }] },
};
