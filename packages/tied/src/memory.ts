import { defineSession, memoryLocker, memoryStore } from '@tied/core';
import { nanoid } from '@tied/generators';
import { superjson } from '@tied/serializers';

/** One memory store and locker per process: `MemorySession` and Flex's 'Memory' see the same sessions. */
export const processMemory = { store: memoryStore(), locker: memoryLocker() };

/** Sessions in this process's memory, locked in-process: tests, scripts, single-process servers. */
export const MemorySession = defineSession({ ...processMemory, generator: nanoid(), serializer: superjson() });
