import { mkdir, rm } from 'node:fs/promises';

/**
 * Each target works in its own namespace — a table, a key prefix or a directory named
 * tied_bench_<target> — which the bench empties before each measurement and removes at the end.
 */

export async function freshDirectory(dir) {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
}

export async function removeDirectory(dir) {
  await rm(dir, { recursive: true, force: true });
}

/** Deletes every Redis key under `prefix` (ioredis client). */
export async function deleteRedisPrefix(redis, prefix) {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    if (keys.length > 0) await redis.del(...keys);
    cursor = next;
  } while (cursor !== '0');
}
