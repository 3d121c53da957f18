import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { deleteRedisPrefix } from '../lib/namespaces.mjs';
import { ioredisClient } from '../lib/ioredis.mjs';
import { randomId } from '../lib/workload.mjs';

const LEASE_MS = 30_000;

/** Takes the lock (SET NX PX with our token) and, only when taken, returns the data: one round trip. */
const LOCK_AND_READ = `if redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2], 'NX') then
  return {1, redis.call('get', KEYS[2])}
end
return {0}`;

/** Writes and unlocks only while the lock still holds our token (fenced): a lease that expired writes nothing. */
const WRITE_AND_UNLOCK = `if redis.call('get', KEYS[1]) == ARGV[1] then
  redis.call('set', KEYS[2], ARGV[2])
  redis.call('del', KEYS[1])
  return 1
end
return 0`;

/**
 * The Redis floor: two EVALSHAs per cycle (ioredis `defineCommand` sends EVALSHA, EVAL once if the
 * script is not cached) — lock + read, then write + unlock, token-fenced — and as little JavaScript
 * as possible around them: a per-process token prefix and a counter instead of random bytes per lock.
 * A taken lock is retried after a short random pause. Commands sent in one tick leave in one write
 * (the socket corked until the tick's microtasks ran): under concurrency a system call per command
 * costs more client CPU than the command, and tied's RedisSession batches the same way.
 */
export async function open({ name }) {
  const redis = await ioredisClient();
  redis.defineCommand('lockAndRead', { numberOfKeys: 2, lua: LOCK_AND_READ });
  redis.defineCommand('writeAndUnlock', { numberOfKeys: 2, lua: WRITE_AND_UNLOCK });
  const dataKey = (id) => `${name}:data:${id}`;
  const lockKey = (id) => `${name}:lock:${id}`;
  const tokenPrefix = randomBytes(8).toString('hex');
  let tokens = 0;
  let corked = false;
  const batchTick = () => {
    if (corked || !redis.stream) return;
    corked = true;
    redis.stream.cork();
    process.nextTick(() => {
      corked = false;
      redis.stream.uncork();
    });
  };

  return {
    reset: () => deleteRedisPrefix(redis, `${name}:`),
    drop: () => deleteRedisPrefix(redis, `${name}:`),
    async seed(data) {
      const id = randomId();
      await redis.set(dataKey(id), JSON.stringify(data));
      return id;
    },
    async cycle(id, i) {
      const token = `${tokenPrefix}${tokens++}`;
      const lock = lockKey(id);
      const key = dataKey(id);
      let answer;
      while ((batchTick(), answer = await redis.lockAndRead(lock, key, token, LEASE_MS))[0] !== 1) await sleep(1 + Math.random() * 2);
      const data = JSON.parse(answer[1]);
      data.count++;
      data.last = i;
      batchTick();
      if (await redis.writeAndUnlock(lock, key, token, JSON.stringify(data)) !== 1) throw new Error(`the lock on ${id} expired before the write`);
    },
    async count(id) { return JSON.parse(await redis.get(dataKey(id))).count; },
    async close() { await redis.quit(); },
  };
}
