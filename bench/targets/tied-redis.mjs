import { deleteRedisPrefix } from '../lib/namespaces.mjs';
import { ioredisClient } from '../lib/ioredis.mjs';
import { REDIS_URL } from '../lib/services.mjs';
import { tiedTarget } from '../lib/tied-target.mjs';
import { tiedExport } from '../lib/unavailable.mjs';

/** tied's RedisSession, opened as its users do: `RedisSession.open(id, { url, prefix })`. */
export async function open({ name }) {
  const RedisSession = await tiedExport('tied', 'RedisSession');
  const admin = await ioredisClient();
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
