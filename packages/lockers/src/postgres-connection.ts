/**
 * What `postgresLocker` and `postgresStore` (@tied/stores/postgres) share: their pool, the advisory
 * lock key of an id, and locks held on one pooled client — onto which the store fuses its read and
 * its write, so that a locked cycle costs two round trips. Internal to tied's PostgreSQL parts, not
 * a stable API.
 *
 * A held lock is a transaction open on its client that took a transaction-level advisory lock; the
 * statements go as multi-statement simple queries:
 *   take:    BEGIN ISOLATION LEVEL READ COMMITTED; [SET LOCAL lock_timeout = …;]
 *            SELECT pg_advisory_xact_lock(key); <read>
 *   release: <update>; COMMIT
 * The read runs after the lock is granted, in a snapshot of its own, so it sees the last holder's
 * write; the lock ends with the commit that makes the write visible, so the next holder cannot read
 * the version before it. Only reads run in the held transaction: a new session's insert commits at
 * once (`commitAfter`), so that the store's other connections see it. The transaction also keeps
 * the lock and its client together through PgBouncer's transaction pooling.
 */
import pg from 'pg';
import type { Pool, PoolClient, QueryResult } from 'pg';
import { LockLostError, LockTimeoutError, abortReason, type AcquireOptions, type Lock, type LockMode } from '@tied/core';
import { checkout, lockWait, timeLeft } from './sql-checkout.js';

/** How a PostgreSQL part gets its connections: the caller's pool, or a connection string. */
export interface PostgresConnectionOptions {
  /** A `pg` Pool you already have; tied never ends it. */
  pool?: Pool;
  /**
   * `postgres://user:password@host:port/database`: tied makes a pool, shared by every part made
   * from the same string, and ends it when the last of them is closed.
   */
  connectionString?: string;
}

export interface PostgresBackend {
  readonly pool: Pool;
  /** Ends the pool when tied made it and no other part uses it any more. */
  close(): Promise<void>;
}

/** The key under which a PostgreSQL locker carries its backend, so that a store can fuse with it. */
export const postgresBackendKey = Symbol.for('tied.postgres.backend');

const poolsByString = new Map<string, { pool: Pool; users: number }>();

export function postgresBackend(options: PostgresConnectionOptions, part: string): PostgresBackend {
  if (options.pool && options.connectionString) throw new TypeError(`${part}: give either pool or connectionString, not both`);
  if (options.pool) {
    if (typeof options.pool.connect !== 'function' || typeof options.pool.options !== 'object') {
      throw new TypeError(`${part}: pool must be a pg Pool`);
    }
    return { pool: options.pool, close: async () => {} };
  }
  if (typeof options.connectionString !== 'string') throw new TypeError(`${part} needs a pool (a pg Pool) or a connectionString`);
  const connectionString = driverConnectionString(options.connectionString);
  let shared = poolsByString.get(connectionString);
  if (!shared) {
    shared = { pool: new pg.Pool({ connectionString }), users: 0 };
    poolsByString.set(connectionString, shared);
  }
  const entry = shared;
  entry.users++;
  let closed = false;
  return {
    pool: entry.pool,
    async close() {
      if (closed) return;
      closed = true;
      if (--entry.users > 0) return;
      poolsByString.delete(connectionString);
      await entry.pool.end();
    },
  };
}

/** The string without tied's own `table` parameter (the store reads it). */
function driverConnectionString(connectionString: string): string {
  const url = new URL(connectionString);
  url.searchParams.delete('table');
  return url.toString();
}

/**
 * The advisory lock key of an id, as SQL: 64 bits of PostgreSQL's own text hash of
 * `Apache-Session-<id>` (a collision only makes two sessions take turns).
 */
export function lockKeySql(id: string): string {
  return `hashtextextended(${textLiteral(`Apache-Session-${id}`)}, 0)`;
}

/** A text literal for the simple query protocol. The text must not contain NUL (the query is a C string). */
export function textLiteral(text: string): string {
  const quoted = `'${text.replace(/'/g, "''")}'`;
  return text.includes('\\') ? ` E${quoted.replace(/\\/g, '\\\\')}` : quoted;
}

/** A bytea literal, hex format. */
export function byteaLiteral(bytes: Uint8Array): string {
  return `'\\x${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')}'::bytea`;
}

/** Runs several statements in one simple query (one round trip); a result per statement. */
async function run(client: PoolClient, statements: readonly string[]): Promise<QueryResult[]> {
  const result = (await client.query(statements.join('; '))) as QueryResult | QueryResult[];
  return Array.isArray(result) ? result : [result];
}

/** An error after which the client is unusable: not a server error of a statement, or the server ending the session. */
function isFatal(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code !== 'string' || !/^[0-9A-Z]{5}$/.test(code) || code.startsWith('08') || code.startsWith('57P');
}

interface Held {
  readonly backend: PostgresBackend;
  readonly client: PoolClient;
  readonly onError: (error: Error) => void;
  /** Set when the connection died while held: the server has let go of the lock. */
  lost: Error | undefined;
  ended: boolean;
}

const heldLocks = new WeakMap<Lock, Held>();

/** Back to the pool: only a live client with no transaction open (and so no lock held). */
function giveBack(held: Held): void {
  held.client.removeListener('error', held.onError);
  held.client.release();
}

/** Closes the client instead (the server then frees whatever it held); its error listener stays. */
function discard(held: Held, error: unknown): void {
  held.client.release(error instanceof Error ? error : new Error('tied: connection discarded'));
}

/**
 * Asks the server, over a connection of its own (the pool may be exhausted by waiters), to cancel
 * the statement the backend `pid` runs: a lock wait then fails at once.
 */
async function cancelBackend(pool: Pool, pid: number): Promise<void> {
  const side = new pg.Client(pool.options);
  side.on('error', () => {});
  try {
    await side.connect();
    await side.query('SELECT pg_cancel_backend($1)', [pid]);
  } finally {
    await side.end().catch(() => {});
  }
}

/**
 * Runs the statements with an abort signal: an abort cancels the running statement on the server,
 * and the caller learns of it from `signal.aborted` once they settle. If the cancel itself fails, it
 * rejects at once (the caller then closes the client, which ends the backend's wait).
 */
function abortable<T>(running: Promise<T>, held: Held, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return running;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      const pid = (held.client as unknown as { processID: number }).processID;
      cancelBackend(held.backend.pool, pid).catch(() => reject(abortReason(signal)));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    running.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/**
 * Takes the advisory lock of `id` (shared for read, exclusive for write) on a pooled client and runs
 * `after` in the same round trip, once the lock is granted. With `commitAfter`, what `after` wrote
 * is committed and the lock taken again in a new transaction, still in that round trip (a fresh id
 * no one else knows yet is not waited for). Resolves with the lock and the results of `after`. On
 * any failure no lock is held and the client is back in the pool, or closed.
 */
export async function lockWith(
  backend: PostgresBackend,
  id: string,
  mode: LockMode,
  options: AcquireOptions = {},
  after: readonly string[] = [],
  commitAfter = false,
): Promise<{ lock: Lock; results: QueryResult[] }> {
  const { signal } = options;
  if (signal?.aborted) throw abortReason(signal);
  const wait = lockWait(id, options.timeout, signal);
  const client = await checkout(backend.pool.connect(), (c) => c.release(), wait);
  const held: Held = {
    backend,
    client,
    lost: undefined,
    ended: false,
    onError: (error) => {
      held.lost = error;
    },
  };
  client.on('error', held.onError);
  const left = timeLeft(wait);
  const takeLock = `SELECT pg_advisory_xact_lock${mode === 'read' ? '_shared' : ''}(${lockKeySql(id)})`;
  const lockStatements = [
    'BEGIN ISOLATION LEVEL READ COMMITTED',
    // lock_timeout 0 means no limit: a timeout of 0 ms still waits 1 ms. Without a timeout, the
    // server's own lock_timeout (none by default) applies.
    ...(left === undefined ? [] : [`SET LOCAL lock_timeout = ${Math.max(1, Math.ceil(left))}`]),
    takeLock,
  ];
  const relock = commitAfter ? ['COMMIT', 'BEGIN ISOLATION LEVEL READ COMMITTED', takeLock] : [];
  let results: QueryResult[];
  try {
    results = await abortable(run(client, [...lockStatements, ...after, ...relock]), held, signal);
  } catch (error) {
    if (signal?.aborted) {
      discard(held, error);
      throw abortReason(signal);
    }
    if (isFatal(error) || held.lost) {
      discard(held, error);
      throw new LockLostError(id, `Lost the connection to PostgreSQL while taking the lock of session ${id}: ${(error as Error).message}`, { cause: error });
    }
    // The failed statement left its transaction open and aborted: rolling it back ends the lock too.
    try {
      await client.query('ROLLBACK');
      giveBack(held);
    } catch (rollbackError) {
      discard(held, rollbackError);
    }
    if ((error as { code?: string }).code === '55P03') throw new LockTimeoutError(id, wait.timeout ?? 0, { cause: error });
    throw error;
  }
  if (signal?.aborted) {
    // The lock may have been granted just before the cancel: closing the client frees it.
    discard(held, abortReason(signal));
    throw abortReason(signal);
  }
  const lock: Lock = { id, mode, release: async () => void (await settle(lock)) };
  heldLocks.set(lock, held);
  return { lock, results: results.slice(lockStatements.length, lockStatements.length + after.length) };
}

/**
 * Runs `before` in the lock's transaction and commits it, which releases the lock — one round trip —
 * and gives the client back. When a statement of `before` fails, the transaction is rolled back (the
 * lock released all the same) and the error thrown; when the connection died, `LockLostError`
 * (the server rolled back: nothing of `before` was written).
 */
export async function settle(lock: Lock, before: readonly string[] = []): Promise<QueryResult[]> {
  const held = heldLocks.get(lock);
  if (!held) throw new TypeError(`This lock of session ${lock.id} was not taken by a PostgreSQL locker`);
  if (held.ended) {
    if (before.length === 0) return [];
    throw new TypeError(`The lock of session ${lock.id} was released already`);
  }
  held.ended = true;
  const lost = (cause: unknown) => {
    discard(held, cause);
    return new LockLostError(lock.id, `The PostgreSQL connection holding the lock of session ${lock.id} was lost (${(cause as Error).message}); the server released the lock and nothing was written`, { cause });
  };
  if (held.lost) throw lost(held.lost);
  let results: QueryResult[];
  try {
    results = await run(held.client, [...before, 'COMMIT']);
  } catch (error) {
    if (isFatal(error) || held.lost) throw lost(error);
    try {
      await held.client.query('ROLLBACK');
      giveBack(held);
    } catch (rollbackError) {
      discard(held, rollbackError);
    }
    throw error;
  }
  giveBack(held);
  return results.slice(0, before.length);
}
