import type { Config } from 'jest';

// Tests run on the TypeScript sources (swc strips types, keeps ESM); `npm test` builds dist first
// because child-process tests start plain Node scripts that import the built packages.
const config: Config = {
  testEnvironment: 'node',
  roots: ['<rootDir>/packages', '<rootDir>/bench'],
  testMatch: ['**/test/**/*.test.ts'],
  extensionsToTreatAsEsm: ['.ts'],
  transform: {
    '^.+\\.ts$': ['@swc/jest', {
      jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
      module: { type: 'es6' },
    }],
  },
  moduleNameMapper: {
    '^@tied/(core|serializers|generators|conformance)$': '<rootDir>/packages/$1/src/index.ts',
    '^@tied/([a-z]+)/([a-z0-9-]+)$': '<rootDir>/packages/$1/src/$2.ts',
    '^tied$': '<rootDir>/packages/tied/src/index.ts',
    '^tied/([a-z]+)$': '<rootDir>/packages/tied/src/$1.ts',
    '^(\\.{1,2}/.*)\\.js$': '$1',
  },
  testTimeout: 60_000,
  maxWorkers: 2,
};

export default config;
