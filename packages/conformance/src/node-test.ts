/**
 * The suites bound to Node's own runner, `node:test`: `import { storeSuite } from
 * '@tied/conformance/node-test'`, then `storeSuite({ name, factory })`, and run `node --test`.
 */
import * as nodeTest from 'node:test';
import { conformance } from './index.js';

export * from './index.js';
const bound = conformance(nodeTest);
export const { storeSuite, lockerSuite, accessSuite, serializerSuite, generatorSuite } = bound;
export const testOrSkip: (skip: string | undefined) => typeof nodeTest.test = bound.testOrSkip;
export const testIf: (skip: string | undefined, capability: boolean, lacking: string) => typeof nodeTest.test = bound.testIf;
