/**
 * The suites bound to jest (`@jest/globals`, a peer dependency): `import { storeSuite } from
 * '@tied/conformance/jest'`, then `storeSuite({ name, factory })`.
 */
import * as jest from '@jest/globals';
import { conformance } from './index.js';

export * from './index.js';
const bound = conformance(jest);
export const { storeSuite, lockerSuite, accessSuite, serializerSuite, generatorSuite } = bound;
export const testOrSkip: (skip: string | undefined) => typeof jest.test = bound.testOrSkip;
export const testIf: (skip: string | undefined, capability: boolean, lacking: string) => typeof jest.test = bound.testIf;
