import Redis from 'ioredis';
import { REDIS } from './services.mjs';
import { reachable } from './unavailable.mjs';

/**
 * An ioredis client that fails at once when Redis is not there (no reconnect loop), reported as
 * "not available". ioredis rejects `connect()` with "Connection is closed." and tells the cause
 * only through its 'error' event, so that event is kept to explain the failure.
 */
export async function ioredisClient() {
  const redis = new Redis({ ...REDIS, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  let cause;
  redis.on('error', (error) => { cause = error; });
  await reachable(`Redis at ${REDIS.host}:${REDIS.port}`, async () => {
    try {
      await redis.connect();
    } catch (error) {
      throw cause ?? error;
    }
  });
  return redis;
}
