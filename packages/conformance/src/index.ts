import { accessSuite, type AccessSuiteOptions } from './access-suite.js';
import { generatorSuite, type GeneratorSuiteOptions } from './generator-suite.js';
import { lockerSuite, type LockerSuiteOptions } from './locker-suite.js';
import { testIf, testOrSkip, type TestRunner } from './runner.js';
import { serializerSuite, type SerializerSuiteOptions } from './serializer-suite.js';
import { storeSuite } from './store-suite.js';
import type { SuiteOptions } from './common.js';
import type { Store } from '@tied/core';

export { storeSuite } from './store-suite.js';
export { lockerSuite, type LockerSuiteOptions } from './locker-suite.js';
export { accessSuite, storeOfSessions, type AccessSuiteOptions, type StoreAndLocker } from './access-suite.js';
export { serializerSuite, portableSession, type SerializerSuiteOptions } from './serializer-suite.js';
export { generatorSuite, hostileIds, type GeneratorSuiteOptions } from './generator-suite.js';
export { freshId, serviceUnavailable, type SuiteOptions } from './common.js';
export { testIf, testOrSkip, type TestRunner } from './runner.js';

/** Every suite and skip helper with the runner already given: what `conformance(runner)` returns. */
export interface Conformance<Runner extends TestRunner> {
  storeSuite(options: SuiteOptions<Store>): void;
  lockerSuite(options: LockerSuiteOptions): void;
  accessSuite(options: AccessSuiteOptions): void;
  serializerSuite(options: SerializerSuiteOptions): void;
  generatorSuite(options: GeneratorSuiteOptions): void;
  /** The runner's `test`, or a visible skip carrying `skip` as its reason. */
  testOrSkip(skip: string | undefined): Runner['test'];
  /** `testOrSkip`, skipping also when the part lacks `capability` (`lacking` says what it declares instead). */
  testIf(skip: string | undefined, capability: boolean, lacking: string): Runner['test'];
}

/**
 * Binds the suites to one test runner: `const { storeSuite } = conformance(runner)` with the module
 * namespace of `@jest/globals`, `vitest` or `node:test` (`import * as runner from 'node:test'`).
 */
export function conformance<Runner extends TestRunner>(runner: Runner): Conformance<Runner> {
  return {
    storeSuite: (options) => storeSuite(runner, options),
    lockerSuite: (options) => lockerSuite(runner, options),
    accessSuite: (options) => accessSuite(runner, options),
    serializerSuite: (options) => serializerSuite(runner, options),
    generatorSuite: (options) => generatorSuite(runner, options),
    testOrSkip: (skip) => testOrSkip(runner, skip),
    testIf: (skip, capability, lacking) => testIf(runner, skip, capability, lacking),
  };
}
