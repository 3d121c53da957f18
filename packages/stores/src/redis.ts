/**
 * `@tied/stores/redis`: the Redis backend — sessions as hashes, locks as leases, and their fused
 * round trips. Its folder: connection.ts (clients, scripts, errors), keys.ts (the key layout),
 * scripts.ts (the Lua), store.ts, locker.ts, access.ts (the store and locker fused, fenced by the lease).
 */
export { BackendError, LockLostError } from '@tied/core';
export type { RedisClient, RedisConnectionOptions, RedisNode } from './redis/connection.js';
export { redisStore, type RedisStoreOptions } from './redis/store.js';
export { redisLocker, type RedisLockerOptions } from './redis/locker.js';
