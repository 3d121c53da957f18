import { RedisStore } from 'connect-redis';
import { createClient } from 'redis';
import { expressStoreTarget } from '../lib/express-store.mjs';
import { REDIS_URL } from '../lib/services.mjs';
import { reachable } from '../lib/unavailable.mjs';

/** connect-redis 9 on node-redis 5 (the client it is written for). */
export async function open({ name }) {
  const client = createClient({ url: REDIS_URL, socket: { reconnectStrategy: false } });
  client.on('error', () => {});
  await reachable('Redis at 127.0.0.1:6379', () => client.connect());
  const prefix = `${name}:`;
  async function clear() {
    for await (const keys of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 })) {
      if (keys.length > 0) await client.del(keys);
    }
  }
  const store = new RedisStore({ client, prefix });
  return expressStoreTarget(store, { reset: clear, drop: clear, close: () => client.close() });
}
