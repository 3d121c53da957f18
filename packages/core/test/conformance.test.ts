import { generatorSuite, lockerSuite, serializerSuite, storeSuite } from '@tied/conformance';
import { memoryLocker, memoryStore, nullLocker } from '@tied/core';
import { hex, nanoid, uuid } from '@tied/generators';
import { json, superjson } from '@tied/serializers';

storeSuite({ name: 'memoryStore', factory: () => memoryStore() });
lockerSuite({ name: 'memoryLocker', factory: () => memoryLocker() });
lockerSuite({ name: 'nullLocker', factory: () => nullLocker() });
serializerSuite({ name: 'superjson', factory: () => superjson() });
serializerSuite({ name: 'json', factory: () => json() });
generatorSuite({ name: 'nanoid', factory: () => nanoid() });
generatorSuite({ name: 'hex', factory: () => hex() });
generatorSuite({ name: 'uuid', factory: () => uuid() });
