import type { Session, SessionData } from '@tied/core';
import { completeNames, flexFlavor, splitFlexArgs, type FlexArgs } from './flex.js';

export * from '@tied/core';
export { registerPart, type FlexRole, type FlexRoles, type PartFactory, type PartRegistration } from './registry.js';
export type { ConfiguredFlavor, FlexArgs } from './flex.js';
export { MemorySession } from './memory.js';
export { RedisSession, type RedisSessionArgs } from './redis.js';
export { MySQLSession, type MySQLSessionArgs } from './mysql.js';
export { PostgresSession, type PostgresSessionArgs } from './postgres.js';
// Importing file.js also registers the File and SlotFile stores and locks for Flex.
export { FileSession, defaultDirectory } from './file.js';

/** The store (and lock) `openSession` uses when no store is named: FileSession's two-slot files. */
const EMBEDDED_DEFAULT_STORE = 'SlotFile';

/** `openSession`: a function, and `openSession.with` for the form that releases for you. */
export interface OpenSession {
  /** Opens the session `id` with the parts that `args` names, or the embedded default. */
  <T extends object = SessionData>(id: string, args?: FlexArgs): Promise<Session<T>>;
  /** A new session when `id` is undefined: none of its fields exist yet, hence `Partial<T>`. */
  <T extends object = SessionData>(id?: string, args?: FlexArgs): Promise<Session<Partial<T>>>;
  /**
   * Opens the session `id` (or a new one), runs `fn` with it, then saves and releases it — or, when
   * `fn` throws, discards its changes and releases it before rethrowing. Runs on every Node version.
   */
  with<T extends object = SessionData, R = void>(id: string | undefined, fn: (session: Session<T>) => R | Promise<R>, args?: FlexArgs): Promise<R>;
}

function flavorFor(args: FlexArgs) {
  const { names, partArgs, options } = splitFlexArgs(args);
  return { flavor: flexFlavor(completeNames(names, EMBEDDED_DEFAULT_STORE), partArgs), options };
}

/**
 * Opens the session `id` (or a new one) with parts named as in Apache::Session::Flex —
 * `{ store: 'MySQL', lock: 'MySQL', generate: 'MD5', serialize: 'Storable', pool }` — or, with no
 * names, the embedded default. Open options (`transaction`, `readonly`, `lockTimeout`, ...) go in
 * the same object.
 */
export const openSession: OpenSession = Object.assign(
  async <T extends object = SessionData>(id?: string, args: FlexArgs = {}): Promise<Session<T>> => {
    const { flavor, options } = flavorFor(args);
    return (await flavor).open<T>(id as string, options);
  },
  {
    async with<T extends object, R>(id: string | undefined, fn: (session: Session<T>) => R | Promise<R>, args: FlexArgs = {}): Promise<R> {
      const { flavor, options } = flavorFor(args);
      return (await flavor).with<T, R>(id, fn, options);
    },
  },
);
