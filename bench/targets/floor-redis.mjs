import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { deleteRedisPrefix } from '../lib/namespaces.mjs';
import { ioredisClient } from '../lib/ioredis.mjs';
import { randomId } from '../lib/workload.mjs';

const LEASE_MS = 30_000;

/** Deletes the lock only if it still holds our token, so a lease that expired is not freed twice. */
const COMPARE_AND_DELETE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;

/**
 * The Redis floor: two pipelined round trips per cycle — `SET lock NX PX` + `GET`, then `SET` +
 * compare-and-delete of the lock. A taken lock is retried after a short random pause.
 */
export async function open({ name }) {
  const redis = await ioredisClient();
  redis.defineCommand('compareAndDelete', { numberOfKeys: 1, lua: COMPARE_AND_DELETE });
  const dataKey = (id) => `${name}:data:${id}`;
  const lockKey = (id) => `${name}:lock:${id}`;

  async function execute(pipeline) {
    const results = await pipeline.exec();
    const failed = results.find(([error]) => error);
    if (failed) throw failed[0];
    return results.map(([, value]) => value);
  }

  return {
    reset: () => deleteRedisPrefix(redis, `${name}:`),
    drop: () => deleteRedisPrefix(redis, `${name}:`),
    async seed(data) {
      const id = randomId();
      await redis.set(dataKey(id), JSON.stringify(data));
      return id;
    },
    async cycle(id, i) {
      const token = randomBytes(8).toString('hex');
      let text;
      for (;;) {
        const [locked, value] = await execute(redis.pipeline().set(lockKey(id), token, 'PX', LEASE_MS, 'NX').get(dataKey(id)));
        if (locked === 'OK') { text = value; break; }
        await sleep(1 + Math.random() * 2);
      }
      const data = JSON.parse(text);
      data.count++;
      data.last = i;
      await execute(redis.pipeline().set(dataKey(id), JSON.stringify(data)).compareAndDelete(lockKey(id), token));
    },
    async count(id) { return JSON.parse(await redis.get(dataKey(id))).count; },
    async close() { await redis.quit(); },
  };
}
