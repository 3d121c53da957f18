import session from 'express-session';
import sessionFileStore from 'session-file-store';
import { expressStoreTarget } from '../lib/express-store.mjs';
import { freshDirectory, removeDirectory } from '../lib/namespaces.mjs';

const FileStore = sessionFileStore(session);

/** session-file-store with its defaults, minus the hourly reaper timer and its log lines. */
export async function open({ dir }) {
  const store = new FileStore({ path: dir, reapInterval: -1, logFn: () => {} });
  return expressStoreTarget(store, {
    reset: () => freshDirectory(dir),
    drop: () => removeDirectory(dir),
    close: async () => {},
  });
}
