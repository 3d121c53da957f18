import { accessSuite, generatorSuite, lockerSuite, storeSuite } from '@tied/conformance/jest';
import { memoryLocker, memoryStore, nullLocker } from '@tied/core';
import { hex, nanoid, uuid } from '@tied/generators';

// The in-process parts and the generators; the serializers run the suite in their own package.
storeSuite({ name: 'memoryStore', factory: () => memoryStore() });
lockerSuite({ name: 'memoryLocker', factory: () => memoryLocker() });
lockerSuite({ name: 'nullLocker', factory: () => nullLocker() });
accessSuite({ name: 'memoryStore + memoryLocker', factory: () => ({ store: memoryStore(), locker: memoryLocker() }) });
accessSuite({ name: 'memoryStore + nullLocker', factory: () => ({ store: memoryStore(), locker: nullLocker() }) });
generatorSuite({ name: 'nanoid', factory: () => nanoid() });
generatorSuite({ name: 'hex', factory: () => hex() });
generatorSuite({ name: 'uuid', factory: () => uuid() });
