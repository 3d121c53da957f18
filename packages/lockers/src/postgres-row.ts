/**
 * The lock Perl's Apache::Session::Postgres takes: with `Commit => 1`, Store::Postgres reads a session
 * with `SELECT … FOR UPDATE` in a transaction that stays open until the session is untied, and writes
 * it in that transaction. A row lock only excludes inside its transaction, so this locker holds one
 * transaction per lock on a pooled client; the store it guards (`guard(store)`) reads and writes a
 * locked session on that client. Perl and Node processes then exclude each other.
 *
 *   lock + read:     BEGIN ISOLATION LEVEL READ COMMITTED; SET LOCAL lock_timeout = …;
 *                    SELECT a_session FROM <table> WHERE id = … FOR UPDATE       (FOR SHARE to read)
 *   lock + insert:   BEGIN …; SET LOCAL lock_timeout = …; INSERT INTO <table> (id, a_session) …
 *   write + release: UPDATE <table> SET a_session = … WHERE id = …; COMMIT
 */
import pg from 'pg';
import type { Pool, PoolClient, QueryResult } from 'pg';
import {
  LockTimeoutError,
  SerializationError,
  SessionExistsError,
  SessionNotFoundError,
  abortReason,
  type AcquireOptions,
  type FusedAccess,
  type Lock,
  type LockMode,
  type Locker,
  type Payload,
  type Store,
  type StoredSession,
  separateAccess,
} from '@tied/core';
import { postgresBackend, textLiteral, type PostgresBackend, type PostgresConnectionOptions } from './postgres-connection.js';
import { checkout, lockWait, timeLeft } from './sql-checkout.js';

export interface PostgresRowLockerOptions extends PostgresConnectionOptions {
  /** The sessions table, `name` or `schema.name`, with Perl's columns `id` and `a_session` (text). Default `sessions`. */
  table?: string;
}

export interface PostgresRowLocker extends Locker {
  readonly table: string;
  /**
   * `store` (on the same table) fused with this locker, and with its writes of a session this locker
   * holds run inside the lock's transaction — outside it, they would wait for the lock forever.
   */
  guard(store: Store): Store;
}

/** One held lock: the open transaction on its client. */
interface Held {
  readonly id: string;
  readonly mode: LockMode;
  readonly client: PoolClient;
  ended: boolean;
}

const LOCK_NOT_AVAILABLE = '55P03';
const UNIQUE_VIOLATION = '23505';

/** `name` or `schema.name`, each a plain identifier, quoted as PostgreSQL folds them (lower case), as Perl's unquoted SQL does. */
function quoteTable(table: string): string {
  const parts = table.split('.');
  if (parts.length > 2 || !parts.every((part) => /^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(part))) {
    throw new TypeError(`postgresRowLocker: table must be a name or schema.name of letters, digits and _, got ${JSON.stringify(table)}`);
  }
  return parts.map((part) => `"${part.toLowerCase()}"`).join('.');
}

/** Perl's schema keeps the session in a text column: only a text serializer (Base64) fits it. */
function textPayload(data: Payload, table: string): string {
  if (typeof data !== 'string') {
    throw new SerializationError(`${table}.a_session is a text column (Perl's schema): it takes a text serializer such as base64(storable()), not bytes`);
  }
  if (data.includes('\0')) throw new SerializationError(`${table}.a_session is a text column and cannot hold NUL characters`);
  return data;
}

/** Several statements in one simple query (one round trip); a result per statement. */
async function run(client: PoolClient, statements: readonly string[]): Promise<QueryResult[]> {
  const result = (await client.query(statements.join('; '))) as QueryResult | QueryResult[];
  return Array.isArray(result) ? result : [result];
}

const codeOf = (error: unknown): unknown => (error as { code?: unknown } | null)?.code;

/** A server error of one statement: the connection is still usable once the transaction is rolled back. */
const isStatementError = (error: unknown): boolean => {
  const code = codeOf(error);
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) && !code.startsWith('08') && !code.startsWith('57P');
};

/** Cancels the statement the client runs, over a connection of its own (the pool may be exhausted). */
async function cancel(pool: Pool, client: PoolClient): Promise<void> {
  const side = new pg.Client(pool.options);
  side.on('error', () => {});
  try {
    await side.connect();
    await side.query('SELECT pg_cancel_backend($1)', [(client as unknown as { processID: number }).processID]);
  } finally {
    await side.end().catch(() => {});
  }
}

/** Row locks of Perl's Apache::Session::Postgres (Store::Postgres with `Commit => 1`), shared with Perl. */
export function postgresRowLocker(options: PostgresRowLockerOptions): PostgresRowLocker {
  const table = options.table ?? 'sessions';
  const quoted = quoteTable(table);
  const backend: PostgresBackend = postgresBackend(options, 'postgresRowLocker');
  const heldLocks = new WeakMap<Lock, Held>();
  /** The write locks this locker holds, by id: at most one each, as FOR UPDATE excludes. */
  const writers = new Map<string, Held>();

  const where = (id: string) => `WHERE id = ${textLiteral(id)}`;
  const select = (id: string, mode: LockMode) => `SELECT a_session FROM ${quoted} ${where(id)} FOR ${mode === 'read' ? 'SHARE' : 'UPDATE'}`;
  const insert = (id: string, data: Payload) => `INSERT INTO ${quoted} (id, a_session) VALUES (${textLiteral(id)}, ${textLiteral(textPayload(data, table))})`;
  const update = (id: string, data: Payload) => `UPDATE ${quoted} SET a_session = ${textLiteral(textPayload(data, table))} ${where(id)}`;

  /** Ends the transaction (commit, or rollback after a failure) and gives the client back, or closes it. */
  async function end(held: Held, statements: readonly string[], failure?: unknown): Promise<QueryResult[]> {
    held.ended = true;
    if (writers.get(held.id) === held) writers.delete(held.id);
    if (failure !== undefined && !isStatementError(failure)) {
      held.client.release(failure instanceof Error ? failure : new Error(String(failure)));
      return [];
    }
    try {
      const results = await run(held.client, statements);
      held.client.release();
      return results;
    } catch (error) {
      if (!isStatementError(error)) {
        held.client.release(error as Error);
        throw error;
      }
      await run(held.client, ['ROLLBACK']).then(() => held.client.release(), (rollbackError: Error) => held.client.release(rollbackError));
      throw error;
    }
  }

  /**
   * Opens the lock's transaction with `statement` (which takes the row lock) in one round trip.
   * On failure the transaction is rolled back and the client given back; a lock wait that runs out
   * is `LockTimeoutError`, an abort rejects with the signal's reason.
   */
  async function begin(id: string, mode: LockMode, { timeout, signal }: AcquireOptions, statement: string): Promise<{ lock: Lock; result: QueryResult }> {
    if (signal?.aborted) throw abortReason(signal);
    const wait = lockWait(id, timeout, signal);
    const client = await checkout(backend.pool.connect(), (c) => c.release(), wait);
    const held: Held = { id, mode, client, ended: false };
    const left = timeLeft(wait);
    // lock_timeout 0 means no limit: a timeout of 0 ms still waits 1 ms.
    const lockTimeout = left === undefined ? 0 : Math.max(1, Math.ceil(left));
    const onAbort = () => void cancel(backend.pool, client).catch(() => {});
    signal?.addEventListener('abort', onAbort, { once: true });
    let results: QueryResult[];
    try {
      results = await run(client, ['BEGIN ISOLATION LEVEL READ COMMITTED', `SET LOCAL lock_timeout = ${lockTimeout}`, statement]);
    } catch (error) {
      await end(held, ['ROLLBACK'], error).catch(() => {});
      if (signal?.aborted) throw abortReason(signal);
      if (codeOf(error) === LOCK_NOT_AVAILABLE) throw new LockTimeoutError(id, timeout ?? 0, { cause: error });
      if (codeOf(error) === UNIQUE_VIOLATION) throw new SessionExistsError(id, { cause: error });
      throw error;
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
    if (signal?.aborted) {
      await end(held, ['ROLLBACK']).catch(() => {});
      throw abortReason(signal);
    }
    const lock: Lock = {
      id,
      mode,
      release: async () => {
        if (!held.ended) await end(held, ['COMMIT']);
      },
    };
    heldLocks.set(lock, held);
    if (mode === 'write') writers.set(id, held);
    return { lock, result: results[2]! };
  }

  /** Runs `statement` in the transaction of the write lock held on `id`; undefined when none is held. */
  async function inHeldTransaction(id: string, statement: () => string): Promise<QueryResult | undefined> {
    const held = writers.get(id);
    if (!held) return undefined;
    const [result] = await run(held.client, [statement()]);
    return result;
  }

  const fused: Omit<FusedAccess, 'updateLocked' | 'removeAndRelease'> = {
    async lockAndMaterialize(id, mode, acquireOptions) {
      const { lock, result } = await begin(id, mode, acquireOptions, select(id, mode));
      const row = result.rows[0] as { a_session: string | null } | undefined;
      if (!row) {
        await lock.release();
        throw new SessionNotFoundError(id);
      }
      const stored: StoredSession = { data: row.a_session ?? '' };
      return { lock, stored };
    },
    async lockAndInsert(id, data, acquireOptions) {
      // Like Perl, the new row stays uncommitted, and so locked, until the session is released.
      return (await begin(id, 'write', acquireOptions, insert(id, data))).lock;
    },
    async updateAndRelease(lock, id, data) {
      const held = heldLocks.get(lock);
      if (!held) throw new TypeError(`This lock of session ${lock.id} was not taken by this postgresRowLocker`);
      if (held.ended) {
        if (data === undefined) return;
        throw new TypeError(`The lock of session ${id} was released already`);
      }
      if (data === undefined) {
        await end(held, ['COMMIT']);
        return;
      }
      let statement: string;
      try {
        statement = update(id, data);
      } catch (error) {
        await end(held, ['COMMIT']);
        throw error;
      }
      const [result] = await end(held, [statement, 'COMMIT']);
      if (result?.rowCount === 0) throw new SessionNotFoundError(id);
    },
  };

  const locker: PostgresRowLocker = {
    name: 'postgres-row',
    table,
    capabilities: { sharedReads: true, crossProcess: true, excludes: true },
    async acquire(id, mode, acquireOptions = {}) {
      // Locks the row, as Perl does: an id without a row has nothing to lock, and excludes no one.
      return (await begin(id, mode, acquireOptions, `SELECT 1 FROM ${quoted} ${where(id)} FOR ${mode === 'read' ? 'SHARE' : 'UPDATE'}`)).lock;
    },
    guard(store) {
      const guarded: Store = {
        ...store,
        fuse: (other) => (other === locker ? { ...separateAccess(guarded, locker), ...fused } : store.fuse?.(other)),
        async update(id, data) {
          const result = await inHeldTransaction(id, () => update(id, data));
          if (!result) return store.update(id, data);
          if (result.rowCount === 0) throw new SessionNotFoundError(id);
        },
        async remove(id) {
          if (!(await inHeldTransaction(id, () => `DELETE FROM ${quoted} ${where(id)}`))) await store.remove(id);
        },
      };
      return guarded;
    },
    close: () => backend.close(),
  };
  return locker;
}
