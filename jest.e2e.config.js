// `npm run test:e2e`: the long end-to-end cases (a full MNIST epoch, the demo), same setup as `npm test`.
const base = require('./jest.config');

/** @type {import('jest').Config} */
module.exports = { ...base, testPathIgnorePatterns: ['/node_modules/'], testMatch: ['<rootDir>/test/e2e/**/*.test.ts'], testTimeout: 600000 };
