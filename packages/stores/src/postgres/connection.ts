/**
 * tied's PostgreSQL connections: the pool (yours, or one tied makes from a connection string), its
 * driver for the held-lock module, and the advisory lock statements. pg's types stay inside this
 * file: what tied's public types say of a pool is the structural `PostgresPool`.
 *
 * A held lock is an advisory lock taken inside a transaction that stays open on its client until
 * release; statements go as multi-statement simple queries (one round trip each):
 *   take:    BEGIN ISOLATION LEVEL READ COMMITTED; [SET LOCAL lock_timeout = …;] SELECT pg_advisory_xact_lock(key); <read>
 *   release: <update>; COMMIT                  — the server frees a transaction's locks after its commit is visible
 *   save:    SELECT pg_advisory_lock(key); <update>; COMMIT AND CHAIN
 *            — the first save takes the lock at session level too, so it outlives the commit; a
 *            release after it is <update>; COMMIT; SELECT pg_advisory_unlock(key)
 * The read runs after the lock is granted, in a snapshot of its own, so it sees the last holder's
 * write; the lock ends after the commit, so the next holder cannot read the version before it.
 * The transaction, open from take to release, is what PgBouncer's transaction pooling pins a server
 * connection by: the lock and its client stay together through it. Both levels of the lock are one
 * lock to the server: the session-level lock of earlier versions of tied excludes this one.
 */
import { connect } from 'node:net';
import pg from 'pg';
import type { LockMode } from '@tied/core';
import type { HoldStatements, SqlDriver } from '../sql/held.js';
import { callersPool, driverUri, poolName, sharedPool, type BackendPool, type PoolUse } from '../sql/pools.js';
import { PLAIN } from '../sql/table.js';

/** How a PostgreSQL part gets its connections: your pool, or a connection string. */
export interface PostgresConnectionOptions {
  /** A `pg` Pool you already have; tied never ends it. Give it an 'error' listener (pg's advice): tied listens on the clients it holds only. */
  pool?: PostgresPool;
  /**
   * `postgres://user:password@host:port/database`: tied makes a pool, shared by every part made
   * from the same string, and ends it when the last of them is closed. It lets the process exit
   * when idle (`allowExitOnIdle`), and its idle clients' errors are handled.
   */
  connectionString?: string;
}

/** A `pg` Pool, as far as tied's types need to say. */
export interface PostgresPool {
  connect(...args: never[]): unknown;
  query(...args: never[]): unknown;
  end(...args: never[]): unknown;
}

/** The members of pg's clients and pools that tied uses. */
interface Client {
  query(sql: string): Promise<unknown>;
  release(error?: Error | boolean): void;
  on(event: 'error', listener: (error: Error) => void): unknown;
  removeListener(event: 'error', listener: (error: Error) => void): unknown;
  readonly processID?: number | null;
  readonly secretKey?: number | null;
  readonly host?: string;
  readonly port?: number;
}

interface Pool {
  connect(): Promise<Client>;
  query(sql: string): Promise<unknown>;
  end(): Promise<void>;
  on(event: 'error', listener: (error: Error) => void): unknown;
  readonly options: { max?: number } & Record<string, unknown>;
  readonly ending?: boolean;
  readonly ended?: boolean;
}

function ownPool(connectionString: string): { pool: Pool; end: () => Promise<void> } {
  const pool = new pg.Pool({ connectionString, allowExitOnIdle: true }) as unknown as Pool;
  // An idle client killed by the server (an administrator, a failover) is dropped by the pool; without a listener it would crash the process.
  pool.on('error', () => {});
  return { pool, end: () => pool.end() };
}

export function postgresPool(options: PostgresConnectionOptions, part: string): BackendPool<Pool, Client> {
  if (options.pool && options.connectionString) throw new TypeError(`${part}: give either pool or connectionString, not both`);
  let use: PoolUse<Pool>;
  let name: string;
  if (options.pool) {
    const given = options.pool as unknown as Pool;
    if (typeof given.connect !== 'function' || typeof given.options !== 'object') throw new TypeError(`${part}: pool must be a pg Pool`);
    use = callersPool(given);
    const { user, host, port, database, connectionString } = given.options as { user?: string; host?: string; port?: number; database?: string; connectionString?: string };
    name = `${connectionString ? poolName(connectionString) : `postgres://${user ?? ''}@${host ?? 'localhost'}:${port ?? 5432}/${database ?? ''}`} (your pool)`;
  } else {
    if (typeof options.connectionString !== 'string') throw new TypeError(`${part} needs a pool (a pg Pool) or a connectionString`);
    const connectionString = driverUri(options.connectionString);
    use = sharedPool(connectionString, () => ownPool(connectionString));
    name = poolName(connectionString);
  }
  const { pool } = use;
  const driver: SqlDriver<Client> = {
    server: 'PostgreSQL',
    pool,
    poolName: name,
    poolSize: () => pool.options.max ?? 10,
    poolEnded: () => pool.ending === true || pool.ended === true,
    connect: () => pool.connect(),
    giveBack: (client) => client.release(),
    destroy: (client, cause) => client.release(cause),
    listen(client, onError) {
      client.on('error', onError);
      return () => client.removeListener('error', onError);
    },
    async run(client, statements) {
      const result = await client.query(statements.join('; '));
      return Array.isArray(result) ? result : [result];
    },
    cancel: cancelRequest,
    isFatal,
    isLockTimeout: (error) => (error as { code?: unknown } | null)?.code === '55P03',
  };
  return { pool, driver, query: (sql) => pool.query(sql), close: () => use.close() };
}

/** An error after which the client is unusable: not a server error of a statement, or the server ending the session. */
function isFatal(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code !== 'string' || !/^[0-9A-Z]{5}$/.test(code) || code.startsWith('08') || code.startsWith('57P');
}

/**
 * Cancels the statement the client runs with the protocol's CancelRequest, over a socket of its own
 * (the pool may be exhausted by waiters): a lock wait then fails at once. Unlike pg_cancel_backend,
 * it also works through PgBouncer, which forwards it to the server connection the client is on.
 */
function cancelRequest(client: Client): Promise<void> {
  const { processID, secretKey, host = 'localhost', port = 5432 } = client;
  if (processID === undefined || processID === null || secretKey === undefined || secretKey === null) return Promise.reject(new Error('the client has no cancel key'));
  const request = Buffer.alloc(16);
  request.writeInt32BE(16, 0);
  request.writeInt32BE(80877102, 4);
  request.writeInt32BE(processID, 8);
  request.writeInt32BE(secretKey, 12);
  return new Promise<void>((resolve, reject) => {
    const socket = host.startsWith('/') ? connect(`${host}/.s.PGSQL.${port}`) : connect(port, host);
    // The server closes the connection once it has the request; closing it first makes PgBouncer 1.18
    // abort with "bad client state" (and every client with it).
    socket.once('connect', () => socket.write(request));
    socket.setTimeout(5000, () => socket.destroy());
    socket.once('error', reject);
    socket.once('close', () => resolve());
    socket.resume();
  });
}

/** The rows of a statement's result; the rows a write matched. */
export const postgresRows = (result: unknown): Record<string, unknown>[] => (result as { rows?: Record<string, unknown>[] } | null)?.rows ?? [];
export const postgresCount = (result: unknown): number => (result as { rowCount?: number | null } | null)?.rowCount ?? 0;

const hex = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');

/** A string as SQL that no server setting (standard_conforming_strings, client_encoding) reads otherwise: plain, or decoded from hexadecimal. */
export function postgresText(text: string): string {
  return PLAIN.test(text) ? `'${text}'` : `convert_from(decode('${hex(Buffer.from(text, 'utf8'))}', 'hex'), 'UTF8')`;
}

export function postgresBytes(bytes: Uint8Array): string {
  return `decode('${hex(bytes)}', 'hex')`;
}

/**
 * The advisory lock key of an id, as SQL: 64 bits of PostgreSQL's own text hash of
 * `Apache-Session-<id>` (a collision only makes two sessions take turns).
 */
export function lockKeySql(id: string): string {
  return `hashtextextended(${postgresText(`Apache-Session-${id}`)}, 0)`;
}

export const BEGIN = 'BEGIN ISOLATION LEVEL READ COMMITTED';

/** lock_timeout for a wait of `waitMs`; 0 means no limit, so a wait of 0 ms still waits 1 ms. */
export const lockTimeoutSetting = (waitMs: number | undefined): string[] => (waitMs === undefined ? [] : [`SET LOCAL lock_timeout = ${Math.max(1, Math.ceil(waitMs))}`]);

/**
 * The advisory lock's statements (see the top of this file). Read locks are shared. The lock is the
 * transaction's until a write keeps it: the release's COMMIT then frees it, and no unlock is sent.
 * A write that keeps it (save, a new session's insert) first takes the same lock at session level —
 * granted at once, as this client holds it — so that it outlives COMMIT AND CHAIN, and a write that
 * fails leaves it held; the release then unlocks it after its COMMIT.
 */
export function advisoryHold(id: string, mode: LockMode): HoldStatements {
  const shared = mode === 'read' ? '_shared' : '';
  const key = lockKeySql(id);
  let sessionLevel = false;
  return {
    take: (waitMs) => ({ statements: [BEGIN, ...lockTimeoutSetting(waitMs), `SELECT pg_advisory_xact_lock${shared}(${key})`] }),
    keepBefore() {
      if (sessionLevel) return [];
      sessionLevel = true;
      return [`SELECT pg_advisory_lock${shared}(${key})`];
    },
    keep: ['COMMIT AND CHAIN'],
    get release() {
      return sessionLevel ? ['COMMIT', `SELECT pg_advisory_unlock${shared}(${key})`] : ['COMMIT'];
    },
    // A held client holds at most this one advisory lock: ROLLBACK frees it at transaction level, the unlock at session level.
    abandon: ['ROLLBACK', 'SELECT pg_advisory_unlock_all()'],
    recover: ['ROLLBACK', BEGIN],
  };
}
