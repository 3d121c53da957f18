import { generatorSuite, lockerSuite, storeSuite } from '@tied/conformance';
import { memoryLocker, memoryStore, nullLocker } from '@tied/core';
import { hex, nanoid, uuid } from '@tied/generators';

// The in-process parts and the generators; the serializers run the suite in their own package.
storeSuite({ name: 'memoryStore', factory: () => memoryStore() });
lockerSuite({ name: 'memoryLocker', factory: () => memoryLocker() });
lockerSuite({ name: 'nullLocker', factory: () => nullLocker() });
generatorSuite({ name: 'nanoid', factory: () => nanoid() });
generatorSuite({ name: 'hex', factory: () => hex() });
generatorSuite({ name: 'uuid', factory: () => uuid() });
