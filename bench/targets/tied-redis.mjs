import Redis from 'ioredis';
import { deleteRedisPrefix } from '../lib/namespaces.mjs';
import { REDIS, REDIS_URL } from '../lib/services.mjs';
import { tiedTarget } from '../lib/tied-target.mjs';
import { reachable, tiedExport } from '../lib/unavailable.mjs';

/** tied's RedisSession, opened as its users do: `RedisSession.open(id, { url, prefix })`. */
export async function open({ name }) {
  const RedisSession = await tiedExport('tied', 'RedisSession');
  const admin = new Redis({ ...REDIS, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  await reachable('Redis at 127.0.0.1:6379', () => admin.connect());
  const args = { url: REDIS_URL, prefix: `${name}:` };
  const clear = () => deleteRedisPrefix(admin, args.prefix);
  return tiedTarget({
    open: (id, options) => RedisSession.open(id, { ...args, ...options }),
    reset: clear,
    drop: clear,
    async close() {
      await (await RedisSession.flavor(args)).close();
      await admin.quit();
    },
  });
}
