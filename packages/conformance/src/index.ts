export { storeSuite } from './store-suite.js';
export { lockerSuite, type LockerSuiteOptions } from './locker-suite.js';
export { serializerSuite, portableSession, type SerializerSuiteOptions } from './serializer-suite.js';
export { generatorSuite, hostileIds, type GeneratorSuiteOptions } from './generator-suite.js';
export { freshId, serviceUnavailable, testOrSkip, type SuiteOptions } from './common.js';
