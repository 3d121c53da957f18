import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Drives a tied flavor as an application does: `open(id)` as its users call it, read and write the
 * session like a plain object, release it (save + unlock). `reset` / `drop` empty and remove the
 * flavor's table, key prefix or directory; `close` ends its connections.
 */
export function tiedTarget({ open, reset, drop, close = async () => {} }) {
  const release = (session) => session[Symbol.asyncDispose]();
  return {
    reset,
    drop,
    close,
    async seed(data) {
      const session = await open(undefined);
      Object.assign(session, data);
      const id = session._session_id;
      await release(session);
      return id;
    },
    /** `appMs`: the application's own work between open and release (the concurrency workload). */
    async cycle(id, i, appMs = 0) {
      const session = await open(id);
      session.count++;
      session.last = i;
      if (appMs > 0) await sleep(appMs);
      await release(session);
    },
    async count(id) {
      const session = await open(id, { readonly: true });
      const count = session.count;
      await release(session);
      return count;
    },
  };
}
