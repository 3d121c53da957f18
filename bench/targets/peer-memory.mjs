import session from 'express-session';
import { expressStoreTarget } from '../lib/express-store.mjs';

/** express-session's own MemoryStore. */
export async function open() {
  const store = new session.MemoryStore();
  const clear = () => new Promise((resolve, reject) => store.clear((error) => (error ? reject(error) : resolve())));
  return expressStoreTarget(store, { reset: clear, drop: clear, close: async () => {} });
}
