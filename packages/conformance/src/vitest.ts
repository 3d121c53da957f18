/**
 * The suites bound to vitest (a peer dependency): `import { storeSuite } from
 * '@tied/conformance/vitest'`, then `storeSuite({ name, factory })`.
 */
import * as vitest from 'vitest';
import { conformance } from './index.js';

export * from './index.js';
const bound = conformance(vitest);
export const { storeSuite, lockerSuite, accessSuite, serializerSuite, generatorSuite } = bound;
export const testOrSkip: (skip: string | undefined) => typeof vitest.test = bound.testOrSkip;
export const testIf: (skip: string | undefined, capability: boolean, lacking: string) => typeof vitest.test = bound.testIf;
