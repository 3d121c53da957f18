import type { Session, SessionData } from '@tied/core';
import { completeNames, flexFlavor, splitFlexArgs, type FlexArgs } from './flex.js';

export * from '@tied/core';
export { registerPart, type FlexArgs, type FlexRole, type FlexRoles, type PartFactory } from './flex.js';
export { MemorySession } from './memory.js';
export { RedisSession, type RedisSessionArgs } from './redis.js';
export { MySQLSession, type MySQLSessionArgs } from './mysql.js';
export { PostgresSession, type PostgresSessionArgs } from './postgres.js';
// Importing file.js also registers the File store and lock for Flex.
export { FileSession, defaultDirectory } from './file.js';

/** The store `openSession` uses when no store is named. */
const EMBEDDED_DEFAULT_STORE = 'File';

/**
 * Opens the session `id` (or a new one) with parts named as in Apache::Session::Flex —
 * `{ store: 'MySQL', lock: 'MySQL', generate: 'MD5', serialize: 'Storable', pool }` — or, with no
 * names, the embedded default. Open options (`transaction`, `readonly`, `lockTimeout`, ...) go in
 * the same object.
 */
export async function openSession<T extends object = SessionData>(id?: string, args: FlexArgs = {}): Promise<Session<T>> {
  const { names, partArgs, options } = splitFlexArgs(args);
  const flavor = await flexFlavor(completeNames(names, EMBEDDED_DEFAULT_STORE), partArgs);
  return flavor.open<T>(id as string, options);
}
