import type { Config } from 'jest';

// Tests run on the TypeScript sources (ts-jest transpiles each file as ESM; type-checking is done by
// `tsc -p tsconfig.tests.json`, not here). `npm test` builds dist first because child-process tests
// start plain Node scripts that import the built packages.
const config: Config = {
  testEnvironment: 'node',
  setupFiles: ['<rootDir>/jest.setup.js'],
  roots: ['<rootDir>/packages', '<rootDir>/bench'],
  testMatch: ['**/test/**/*.test.ts'],
  extensionsToTreatAsEsm: ['.ts'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.tests.json' }],
  },
  moduleNameMapper: {
    '^@tied/(core|serializers|generators|conformance|http)$': '<rootDir>/packages/$1/src/index.ts',
    '^@tied/([a-z]+)/([a-z0-9-]+)$': '<rootDir>/packages/$1/src/$2.ts',
    '^tied$': '<rootDir>/packages/tied/src/index.ts',
    '^tied/([a-z]+)$': '<rootDir>/packages/tied/src/$1.ts',
    '^(\\.{1,2}/.*)\\.js$': '$1',
  },
  testTimeout: 60_000,
  maxWorkers: 2,
};

export default config;
