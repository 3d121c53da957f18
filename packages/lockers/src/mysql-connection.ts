/**
 * What `mysqlLocker` and `mysqlStore` (@tied/stores/mysql) share: their pool, Perl's lock names, and
 * locks held with GET_LOCK on one pooled connection — onto which the store fuses its read and its
 * write, so that a locked cycle costs two round trips. Internal to tied's MySQL parts, not a stable API.
 */
import { createHash } from 'node:crypto';
import mysql from 'mysql2';
import type { Pool, PoolConnection } from 'mysql2';
import type { Pool as PromisePool } from 'mysql2/promise';
import { LockLostError, LockTimeoutError, abortReason, type AcquireOptions, type Lock, type LockMode } from '@tied/core';
import { checkout, lockWait, timeLeft, type LockWait } from './sql-checkout.js';

/** A mysql2 pool, from `mysql2` (callbacks) or `mysql2/promise`. */
export type MySQLPool = Pool | PromisePool;

/** How a MySQL part gets its connections: the caller's pool, or a URI it makes a pool for. */
export interface MySQLConnectionOptions {
  /**
   * A pool you already have; tied never ends it. Made with `multipleStatements: true`, a locked cycle
   * costs 2 round trips; without, the same statements go one by one (4 round trips).
   */
  pool?: MySQLPool;
  /**
   * `mysql://user:password@host:port/database`: tied makes a pool (with `multipleStatements`), shared
   * by every part made from the same URI, and ends it when the last of them is closed.
   */
  uri?: string;
}

export interface MySQLBackend {
  readonly pool: Pool;
  /** Several statements may go in one round trip. */
  readonly multipleStatements: boolean;
  /** Runs one statement on the pool or one of its connections; rows come as objects whatever the pool's defaults. */
  query<T = unknown>(on: Pool | PoolConnection, statement: Statement): Promise<T>;
  /** Ends the pool when tied made it and no other part uses it any more. */
  close(): Promise<void>;
}

/** The key under which a MySQL locker carries its backend, so that a store can fuse with it. */
export const mysqlBackendKey = Symbol.for('tied.mysql.backend');

/** The parts of mysql2's pool config tied reads (not in its typings). */
interface PoolInternals {
  config: { connectionConfig: { multipleStatements?: boolean; rowsAsArray?: boolean; nestTables?: unknown } };
}

const poolsByUri = new Map<string, { pool: Pool; users: number }>();

/** The callback pool behind either mysql2 API; anything else is refused here, not at first use. */
function callbackPool(given: MySQLPool, part: string): Pool {
  const pool = 'pool' in given && typeof (given as PromisePool).pool?.getConnection === 'function' ? (given as PromisePool).pool : given;
  if (typeof (pool as Pool).getConnection !== 'function' || !(pool as unknown as PoolInternals).config?.connectionConfig) {
    throw new TypeError(`${part}: pool must be a mysql2 pool (createPool from 'mysql2' or 'mysql2/promise')`);
  }
  return pool as Pool;
}

export function mysqlBackend(options: MySQLConnectionOptions, part: string): MySQLBackend {
  if (options.pool && options.uri) throw new TypeError(`${part}: give either pool or uri, not both`);
  if (options.pool) {
    const pool = callbackPool(options.pool, part);
    const { multipleStatements, rowsAsArray, nestTables } = (pool as unknown as PoolInternals).config.connectionConfig;
    return { pool, multipleStatements: multipleStatements === true, query: queryFor(!rowsAsArray && nestTables === undefined), close: async () => {} };
  }
  if (typeof options.uri !== 'string') throw new TypeError(`${part} needs a pool (mysql2 createPool, callback or promise API) or a uri`);
  const uri = driverUri(options.uri);
  let shared = poolsByUri.get(uri);
  if (!shared) {
    shared = { pool: mysql.createPool({ uri, multipleStatements: true }), users: 0 };
    poolsByUri.set(uri, shared);
  }
  const entry = shared;
  entry.users++;
  let closed = false;
  return {
    pool: entry.pool,
    multipleStatements: true,
    query: queryFor(true),
    async close() {
      if (closed) return;
      closed = true;
      if (--entry.users > 0) return;
      poolsByUri.delete(uri);
      await new Promise<void>((resolve, reject) => entry.pool.end((error) => (error ? reject(error) : resolve())));
    },
  };
}

/** The URI without tied's own `table` parameter (the store reads it; mysql2 would warn about it). */
function driverUri(uri: string): string {
  const url = new URL(uri);
  url.searchParams.delete('table');
  return url.toString();
}

/**
 * Perl's Lock::MySQL name, `Apache-Session-<id>`, so that Perl and Node lock each other out. MySQL
 * refuses names over 64 characters: longer ids are hashed.
 */
export function lockName(id: string): string {
  const name = `Apache-Session-${id}`;
  return name.length <= 64 ? name : `Apache-Session-${createHash('sha1').update(id).digest('hex')}`;
}

/** GET_LOCK has no "wait forever" on MariaDB (a negative timeout returns NULL): a year will do. */
const WAIT_FOREVER_SECONDS = 365 * 24 * 3600;

export interface Statement {
  readonly sql: string;
  readonly values?: readonly unknown[];
}

/**
 * The query function of a backend. A pool that returns rows as objects already takes the plain
 * `query(sql, values, callback)`, which mysql2 runs fastest; others get the options that make it so.
 */
function queryFor(objectRows: boolean): MySQLBackend['query'] {
  return <T>(on: Pool | PoolConnection, { sql, values = [] }: Statement) => new Promise<T>((resolve, reject) => {
    const done = (error: Error | null, results: unknown) => (error ? reject(error) : resolve(results as T));
    if (objectRows) on.query(sql, values as unknown[], done);
    else on.query({ sql, values: values as unknown[], rowsAsArray: false, nestTables: false }, done);
  });
}

/** Runs statements on one connection, in one round trip when the pool allows it; their results in order. */
async function run(backend: MySQLBackend, connection: PoolConnection, statements: readonly Statement[]): Promise<unknown[]> {
  if (backend.multipleStatements && statements.length > 1) {
    let sql = statements[0]!.sql;
    const values = [...(statements[0]!.values ?? [])];
    for (let i = 1; i < statements.length; i++) {
      sql += `; ${statements[i]!.sql}`;
      for (const value of statements[i]!.values ?? []) values.push(value);
    }
    return backend.query<unknown[]>(connection, { sql, values });
  }
  const results: unknown[] = [];
  for (const statement of statements) results.push(await backend.query(connection, statement));
  return results;
}

/** mysql2 marks errors after which the connection is unusable (killed, closed, network) as fatal. */
const isFatal = (error: unknown): boolean => (error as { fatal?: boolean } | null)?.fatal === true;

interface Held {
  readonly backend: MySQLBackend;
  readonly connection: PoolConnection;
  readonly name: string;
  readonly onError: (error: Error) => void;
  /** Set when the connection died while held: the server has let go of the lock. */
  lost: Error | undefined;
  ended: boolean;
}

const heldLocks = new WeakMap<Lock, Held>();

function getConnection(pool: Pool): Promise<PoolConnection> {
  return new Promise((resolve, reject) => pool.getConnection((error, connection) => (error ? reject(error) : resolve(connection))));
}

/** Back to the pool: only a live connection that holds no lock. */
function giveBack(held: Held): void {
  held.connection.removeListener('error', held.onError);
  held.connection.release();
}

/** Closes the connection instead (the server then frees whatever it held); its error listener stays. */
function discard(held: Held): void {
  held.connection.destroy();
}

/**
 * Asks the server, over a connection of its own (the pool may be exhausted by waiters), to stop the
 * statement running on `threadId`: a GET_LOCK wait then returns NULL at once.
 */
function killQuery(pool: Pool, threadId: number): Promise<void> {
  const config = (pool as unknown as PoolInternals).config.connectionConfig;
  const copy = Object.create(Object.getPrototypeOf(config), Object.getOwnPropertyDescriptors(config));
  const Connection = mysql.Connection as unknown as new (options: { config: unknown }) => PoolConnection;
  const side = new Connection({ config: copy });
  side.on('error', () => {});
  return new Promise<void>((resolve, reject) => {
    side.query('KILL QUERY ?', [threadId], (error) => {
      side.destroy();
      if (error) reject(error);
      else resolve();
    });
  });
}

/**
 * Runs the statements with an abort signal: an abort kills the running statement on the server, and
 * the caller learns of it from `signal.aborted` once they settle. If the kill itself fails, it rejects
 * at once (the caller then closes the connection; the server's wait ends when it gets the lock).
 */
function abortable<T>(running: Promise<T>, held: Held, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return running;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      killQuery(held.backend.pool, held.connection.threadId).catch(() => reject(abortReason(signal)));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    running.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

const lockStatement = (name: string, seconds: number): Statement => ({ sql: 'SELECT GET_LOCK(?, ?) AS locked', values: [name, seconds] });
const releaseStatement = (name: string): Statement => ({ sql: 'DO RELEASE_LOCK(?)', values: [name] });

/**
 * Takes the lock of `id` on a pooled connection with GET_LOCK and runs `after` in the same round trip
 * (when the pool allows several statements). `after` runs even when GET_LOCK timed out, so writes in
 * it must check `IS_USED_LOCK(name) = CONNECTION_ID()`. Locks are exclusive whatever the mode, as with
 * Perl's Lock::MySQL. Resolves with the lock and the results of `after`.
 */
export async function lockWith(
  backend: MySQLBackend,
  id: string,
  mode: LockMode,
  options: AcquireOptions = {},
  after: readonly Statement[] = [],
): Promise<{ lock: Lock; results: unknown[] }> {
  const { signal } = options;
  if (signal?.aborted) throw abortReason(signal);
  const wait = lockWait(id, options.timeout, signal);
  const connection = await checkout(getConnection(backend.pool), (c) => c.release(), wait);
  const name = lockName(id);
  const held: Held = {
    backend,
    connection,
    name,
    lost: undefined,
    ended: false,
    onError: (error) => {
      held.lost = error;
    },
  };
  connection.on('error', held.onError);
  const left = timeLeft(wait);
  const seconds = left === undefined ? WAIT_FOREVER_SECONDS : left / 1000;
  let results: unknown[];
  try {
    results = await abortable(run(backend, connection, [lockStatement(name, seconds), ...after]), held, signal);
  } catch (error) {
    throw await failedLock(held, wait, error);
  }
  const locked = (results[0] as { locked: number | null }[])[0]?.locked;
  if (signal?.aborted) {
    // The lock may have been granted just before the kill: closing the connection frees it.
    discard(held);
    throw abortReason(signal);
  }
  if (locked === 1) {
    const lock: Lock = { id, mode, release: async () => void (await settle(lock)) };
    heldLocks.set(lock, held);
    return { lock, results: results.slice(1) };
  }
  if (locked === 0) {
    giveBack(held);
    throw new LockTimeoutError(id, wait.timeout ?? seconds * 1000);
  }
  discard(held);
  throw new LockLostError(id, `GET_LOCK of session ${id} was interrupted on the server (returned NULL)`);
}

/** What to throw when the lock round trip failed; leaves no lock held and the connection clean or closed. */
async function failedLock(held: Held, wait: LockWait, error: unknown): Promise<unknown> {
  if (wait.signal?.aborted) {
    discard(held);
    return abortReason(wait.signal);
  }
  if (isFatal(error) || held.lost) {
    discard(held);
    return new LockLostError(wait.id, `Lost the connection to MySQL while taking the lock of session ${wait.id}: ${(error as Error).message}`, { cause: error });
  }
  // A statement after GET_LOCK failed (a duplicate key, a missing table): the lock may be held.
  try {
    await held.backend.query(held.connection, releaseStatement(held.name));
    giveBack(held);
  } catch {
    discard(held);
  }
  return error;
}

/**
 * Runs `before` and then releases the lock, in one round trip when the pool allows it, and gives the
 * connection back. When a statement of `before` fails, the lock is still released and the error
 * thrown; when the connection died, `LockLostError` (nothing of `before` was written).
 */
export async function settle(lock: Lock, before: readonly Statement[] = []): Promise<unknown[]> {
  const held = heldLocks.get(lock);
  if (!held) throw new TypeError(`This lock of session ${lock.id} was not taken by a MySQL locker`);
  if (held.ended) {
    if (before.length === 0) return [];
    throw new TypeError(`The lock of session ${lock.id} was released already`);
  }
  held.ended = true;
  const lost = (cause: unknown) => {
    discard(held);
    return new LockLostError(lock.id, `The MySQL connection holding the lock of session ${lock.id} was lost (${(cause as Error).message}); the server released the lock and nothing was written`, { cause });
  };
  if (held.lost) throw lost(held.lost);
  let results: unknown[];
  try {
    results = await run(held.backend, held.connection, [...before, releaseStatement(held.name)]);
  } catch (error) {
    if (isFatal(error) || held.lost) throw lost(error);
    try {
      await held.backend.query(held.connection, releaseStatement(held.name));
      giveBack(held);
    } catch {
      discard(held);
    }
    throw error;
  }
  giveBack(held);
  return results.slice(0, before.length);
}
