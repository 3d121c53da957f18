/**
 * `@tied/lockers/redis`: the Redis locker (leases). It lives with the rest of the Redis backend in
 * @tied/stores (packages/stores/src/redis/), where its store fuses with it; this is its import name.
 */
export { BackendError, LockLostError, redisLocker, type RedisClient, type RedisConnectionOptions, type RedisLockerOptions } from '@tied/stores/redis';
