import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { randomId } from './workload.mjs';

const DAY_MS = 86_400_000;

/**
 * Drives an express-session Store the way express-session does for a request: `get` the session,
 * change it, `set` it back — no lock, as express-session takes none. Sessions carry the cookie
 * fields express-session stores with every session (the stores read `cookie.expires` for the TTL).
 */
export function expressStoreTarget(store, { reset, drop, close }) {
  const get = promisify(store.get.bind(store));
  const set = promisify(store.set.bind(store));
  return {
    reset,
    drop,
    close,
    async seed(data) {
      const id = randomId();
      const cookie = { originalMaxAge: DAY_MS, expires: new Date(Date.now() + DAY_MS), httpOnly: true, path: '/' };
      await set(id, { cookie, ...data });
      return id;
    },
    /** `appMs`: the application's own work between get and set (the concurrency workload). */
    async cycle(id, i, appMs = 0) {
      const session = await get(id);
      if (!session) throw new Error(`${store.constructor.name} lost session ${id}`);
      session.count++;
      session.last = i;
      if (appMs > 0) await sleep(appMs);
      await set(id, session);
    },
    async count(id) { return (await get(id)).count; },
  };
}
