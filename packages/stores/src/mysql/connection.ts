/**
 * tied's MySQL connections: the pool (yours, or one tied makes from a URI), its driver for the
 * held-lock module, and Perl's lock statements (Lock::MySQL's GET_LOCK). mysql2's types stay inside
 * this file: what tied's public types say of a pool is the structural `MySQLPool`.
 */
import { createHash } from 'node:crypto';
import mysql from 'mysql2';
import type { LockMode } from '@tied/core';
import { callersPool, driverUri, poolName, sharedPool, type BackendPool, type PoolUse } from '../sql/pools.js';
import type { HoldStatements, SqlDriver } from '../sql/held.js';
import { PLAIN } from '../sql/table.js';

/** A mysql2 pool — `createPool` from 'mysql2' or 'mysql2/promise' — as far as tied's types need to say. */
export interface MySQLPool {
  getConnection(...args: never[]): unknown;
  end(...args: never[]): unknown;
}

/** How a MySQL part gets its connections: your pool, or a URI it makes a pool for. */
export interface MySQLConnectionOptions {
  /**
   * A pool you already have; tied never ends it. Made with `multipleStatements: true`, a locked cycle
   * costs 2 round trips; without, the same statements go one by one.
   */
  pool?: MySQLPool;
  /**
   * `mysql://user:password@host:port/database`: tied makes a pool (with `multipleStatements`), shared
   * by every part made from the same URI, and ends it when the last of them is closed. Its idle
   * connections do not keep the process alive.
   */
  uri?: string;
}

/** The members of mysql2's connections and pools that tied uses (its typings do not list them all). */
interface Connection {
  query(options: { sql: string; rowsAsArray?: boolean; nestTables?: boolean } | string, callback: (error: Error | null, results: unknown) => void): unknown;
  release(): void;
  destroy(): void;
  on(event: 'error', listener: (error: Error) => void): unknown;
  removeListener(event: 'error', listener: (error: Error) => void): unknown;
  readonly threadId: number;
  readonly stream?: { ref(): void; unref(): void };
}

interface CallbackPool {
  getConnection(callback: (error: Error | null, connection: Connection) => void): void;
  query(sql: string, callback: (error: Error | null, results: unknown) => void): unknown;
  end(callback?: (error?: Error | null) => void): void;
  on(event: 'acquire' | 'release', listener: (connection: Connection) => void): unknown;
  readonly config: {
    readonly connectionLimit?: number;
    readonly connectionConfig: { multipleStatements?: boolean; rowsAsArray?: boolean; nestTables?: unknown };
  };
  readonly _closed?: boolean;
}

/** The callback pool behind either mysql2 API; anything else is refused here, not at first use. */
function callbackPool(given: MySQLPool, part: string): CallbackPool {
  const inner = (given as { pool?: unknown }).pool;
  const pool = (typeof (inner as CallbackPool | undefined)?.getConnection === 'function' ? inner : given) as CallbackPool;
  if (typeof pool.getConnection !== 'function' || !pool.config?.connectionConfig) {
    throw new TypeError(`${part}: pool must be a mysql2 pool (createPool from 'mysql2' or 'mysql2/promise')`);
  }
  return pool;
}

/** A pool tied makes: several statements a round trip, and idle connections that let the process exit. */
function ownPool(uri: string): { pool: CallbackPool; end: () => Promise<void> } {
  const pool = mysql.createPool({ uri, multipleStatements: true }) as unknown as CallbackPool;
  pool.on('acquire', (connection) => connection.stream?.ref());
  pool.on('release', (connection) => connection.stream?.unref());
  return { pool, end: () => new Promise<void>((resolve, reject) => pool.end((error) => (error ? reject(error) : resolve()))) };
}

export function mysqlPool(options: MySQLConnectionOptions, part: string): BackendPool<CallbackPool, Connection> {
  if (options.pool && options.uri) throw new TypeError(`${part}: give either pool or uri, not both`);
  let use: PoolUse<CallbackPool>;
  let name: string;
  if (options.pool) {
    use = callersPool(callbackPool(options.pool, part));
    const { user, host, port, database } = use.pool.config.connectionConfig as { user?: string; host?: string; port?: number; database?: string };
    name = `mysql://${user ?? ''}@${host ?? 'localhost'}:${port ?? 3306}/${database ?? ''} (your pool)`;
  } else {
    if (typeof options.uri !== 'string') throw new TypeError(`${part} needs a pool (mysql2 createPool, callback or promise API) or a uri`);
    const uri = driverUri(options.uri);
    use = sharedPool(uri, () => ownPool(uri));
    name = poolName(uri);
  }
  const { pool } = use;
  const { multipleStatements, rowsAsArray, nestTables } = pool.config.connectionConfig;
  // A pool that returns rows as objects takes the plain query(sql, callback), which mysql2 runs fastest.
  const objectRows = !rowsAsArray && nestTables === undefined;
  const query = (on: Connection | CallbackPool, sql: string) => new Promise<unknown>((resolve, reject) => {
    const done = (error: Error | null, results: unknown) => (error ? reject(error) : resolve(results));
    if (objectRows) (on as Connection).query(sql, done);
    else (on as Connection).query({ sql, rowsAsArray: false, nestTables: false }, done);
  });
  const driver: SqlDriver<Connection> = {
    server: 'MySQL',
    pool,
    poolName: name,
    poolSize: () => pool.config.connectionLimit,
    poolEnded: () => pool._closed === true,
    connect: () => new Promise((resolve, reject) => pool.getConnection((error, connection) => (error ? reject(error) : resolve(connection)))),
    giveBack: (connection) => connection.release(),
    destroy: (connection) => connection.destroy(),
    listen(connection, onError) {
      connection.on('error', onError);
      return () => connection.removeListener('error', onError);
    },
    async run(connection, statements) {
      if (statements.length === 1) return [await query(connection, statements[0]!)];
      if (multipleStatements) return (await query(connection, statements.join('; '))) as unknown[];
      const results: unknown[] = [];
      for (const statement of statements) results.push(await query(connection, statement));
      return results;
    },
    cancel: (connection) => killQuery(pool, connection.threadId),
    // Server errors carry an errno; anything else (lost, killed, closed, protocol) ends the connection.
    isFatal: (error) => (error as { fatal?: boolean } | null)?.fatal === true || typeof (error as { errno?: unknown } | null)?.errno !== 'number',
    isLockTimeout: () => false,
    // pool.end() ends every connection, held ones too, and mysql2 then refuses statements without sending them.
    wasNotSent: (error) => /closed state/.test((error as Error | null)?.message ?? ''),
  };
  return { pool, driver, query: (sql) => query(pool, sql), close: () => use.close() };
}

/**
 * Asks the server, over a connection of its own (the pool may be exhausted by waiters), to stop the
 * statement running on `threadId`: a GET_LOCK wait then returns NULL at once.
 */
function killQuery(pool: CallbackPool, threadId: number): Promise<void> {
  const config = pool.config.connectionConfig;
  const copy = Object.create(Object.getPrototypeOf(config), Object.getOwnPropertyDescriptors(config));
  const SideConnection = mysql.Connection as unknown as new (options: { config: unknown }) => Connection;
  const side = new SideConnection({ config: copy });
  side.on('error', () => {});
  return new Promise<void>((resolve, reject) => {
    side.query(`KILL QUERY ${Number(threadId)}`, (error) => {
      side.destroy();
      if (error) reject(error);
      else resolve();
    });
  });
}

/** The rows of a statement's result. */
export const mysqlRows = (result: unknown): Record<string, unknown>[] => (Array.isArray(result) ? result : []) as Record<string, unknown>[];

/** The rows a write matched: "Rows matched" from the server's info, so a pool without the FOUND_ROWS flag counts rows written with unchanged bytes. */
export function mysqlCount(result: unknown): number {
  const { affectedRows = 0, info = '' } = (result ?? {}) as { affectedRows?: number; info?: string };
  const matched = /Rows matched: (\d+)/.exec(info);
  return matched ? Number(matched[1]) : affectedRows;
}

/** A string as a MySQL literal that no sql_mode or character set reads otherwise: plain, or hexadecimal. */
export function mysqlText(text: string): string {
  return PLAIN.test(text) ? `'${text}'` : `X'${Buffer.from(text, 'utf8').toString('hex')}'`;
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

/**
 * Lock::MySQL's statements: GET_LOCK on the held connection (exclusive whatever the mode), writes
 * committed as they run (autocommit), RELEASE_LOCK at the end.
 */
export function mysqlHold(id: string, _mode: LockMode): HoldStatements {
  const name = mysqlText(lockName(id));
  const release = [`DO RELEASE_LOCK(${name})`];
  return {
    take: (waitMs) => ({
      statements: [`SELECT GET_LOCK(${name}, ${waitMs === undefined ? WAIT_FOREVER_SECONDS : waitMs / 1000}) AS locked`],
      granted: (results) => {
        const locked = (results[0] as { locked: number | string | null }[] | undefined)?.[0]?.locked;
        return locked === null || locked === undefined ? null : Number(locked) === 1;
      },
    }),
    keep: [],
    release,
    abandon: release,
    recover: [],
  };
}

/** The condition under which a statement that runs with GET_LOCK writes: the lock was granted. */
export const heldByThisConnection = (id: string): string => `IS_USED_LOCK(${mysqlText(lockName(id))}) = CONNECTION_ID()`;
