/**
 * The store both SQL backends return, and its `FusedAccess` with a locker of the same backend on the
 * same pool: lock and read in one round trip, write and release in one, every write of a locked
 * session on the connection that holds its lock (see held.ts). The catalog is read once, on the
 * held connection when a lock is held, so releasing never waits for a second pooled connection.
 */
import {
  SessionExistsError,
  SessionNotFoundError,
  SessionTooLargeError,
  type FusedAccess,
  type Lock,
  type LockMode,
  type Locker,
  type Payload,
  type PurgeOptions,
  type Store,
  type StoreCapabilities,
  type StoredSession,
  type StoredSessionInfo,
} from '@tied/core';
import { lockWith, readHeld, settle, writeHeld, type HoldStatements, type SqlDriver } from './held.js';
import { leasesOf, type LeaseSql } from './lease.js';
import { leaseAccess, type FencedSql } from './lease-access.js';
import { checkId, layoutOf, payloadLiteral, statementsFor, type Layout, type Schema, type SqlDialect, type TableName, type TableStatements } from './table.js';

/** What a SQL backend gives its store beside its driver and dialect. */
export interface SqlBackend<C> {
  readonly driver: SqlDriver<C>;
  readonly dialect: SqlDialect;
  /** The statements that hold the lock of `id` (its locker's). */
  hold(id: string, mode: LockMode): HoldStatements;
  /** Runs one statement on a pooled connection (for the store's calls outside a lock). */
  query(sql: string): Promise<unknown>;
  /** The rows of a statement's result. */
  rows(result: unknown): Record<string, unknown>[];
  /** The rows a write found (matched, even if unchanged). */
  count(result: unknown): number;
  isDuplicate(error: unknown): boolean;
  /** The server refused a value too long for its column (a strict sql_mode). */
  isTooLong(error: unknown): boolean;
  /** A condition under which a fused insert writes only when the lock was granted, if the backend runs it either way. */
  insertGuard?(id: string): string;
  /** The statements of this table fenced by the leases of `leases` (a lease locker's table). */
  fenced(table: TableName, statements: TableStatements, leases: LeaseSql): FencedSql;
  /** What Perl's table holds (its payload column), for the capabilities of a store declared `schema: 'perl'`. */
  readonly perlCapabilities: Pick<StoreCapabilities, 'binary' | 'maxPayloadBytes'>;
  close(): Promise<void>;
}

export interface SqlStoreOptions {
  /** The table as given. */
  readonly table: string;
  /** When given, checked against the table; else detected: a table without `updated_at` is Perl's. */
  readonly schema?: Schema;
}

export interface SqlStore extends Store {
  /** The table as given. */
  readonly table: string;
  /** Creates the table (the schema option's, else the recommended one), unless it exists. */
  createTable(): Promise<void>;
  /**
   * Reads the table's layout from the catalog (once): 'perl' for Apache::Session's table as it is (no
   * `updated_at`: no `purge`, no `maxAge`), else 'recommended'. The flavors call it when they are made.
   */
  detectSchema(): Promise<Schema>;
}

interface SessionRow {
  data?: unknown;
  updated_ms?: unknown;
  id?: unknown;
  size?: unknown;
}

const LIST_BATCH = 500;
const PURGE_BATCH = 1000;

const stored = (row: SessionRow): StoredSession => ({
  data: (row.data as Buffer | string | null) ?? Buffer.alloc(0),
  updatedAt: row.updated_ms === null || row.updated_ms === undefined ? undefined : Math.round(Number(row.updated_ms)),
});

/** Releases the lock, then rethrows: for a step that failed before anything was written. */
async function releasing<T>(lock: Lock, step: () => Promise<T> | T): Promise<T> {
  try {
    return await step();
  } catch (error) {
    await settle(lock).catch(() => {});
    throw error;
  }
}

export function sqlStore<C>(backend: SqlBackend<C>, options: SqlStoreOptions, sameBackend: (locker: Locker) => boolean): SqlStore {
  const { dialect } = backend;
  const table: TableName = dialect.parseTable(options.table);
  const sql = statementsFor(dialect, table);
  let layout: Layout | undefined;

  const learn = (result: unknown): Layout => {
    const { columns, statementBytes } = dialect.readColumns(backend.rows(result));
    layout = layoutOf(dialect, table, columns, statementBytes, options.schema);
    return layout;
  };
  /** The layout, read on the pool when no lock is held. */
  const layoutOnPool = async (): Promise<Layout> => layout ?? learn(await backend.query(dialect.columnsQuery(table)));
  /** The layout, read on the lock's own connection: no second connection needed. */
  const layoutHeld = async (lock: Lock): Promise<Layout> => layout ?? learn((await readHeld(lock, [dialect.columnsQuery(table)]))[0]);

  /** A server's "data too long" (strict sql_mode) as the error tied throws for it. */
  const tooLarge = (error: unknown, data: Payload): unknown => backend.isTooLong(error)
    ? new SessionTooLargeError(typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength, layout?.maxBytes ?? 0, `the column ${table.given}.a_session (the server refused it)`, { cause: error })
    : error;

  const refusePerl = (what: string): never => {
    throw new TypeError(`${dialect.part}: ${what} needs an updated_at column, and ${table.given} has Perl's schema (none); add it with ${dialect.addUpdatedAt(table)}`);
  };

  const access: FusedAccess = {
    async lockAndMaterialize(id, mode, acquireOptions) {
      const known = layout;
      const { lock, results } = await lockWith(backend.driver, backend.hold(id, mode), id, mode, acquireOptions, [known ? sql.select(known, id) : dialect.columnsQuery(table)]);
      const row = await releasing(lock, async () => {
        const result = known ? results[0] : (await readHeld(lock, [sql.select(learn(results[0]), id)]))[0];
        return backend.rows(result)[0] as SessionRow | undefined;
      });
      if (!row) {
        await settle(lock);
        throw new SessionNotFoundError(id);
      }
      return { lock, stored: stored(row) };
    },

    async lockAndInsert(id, data, acquireOptions) {
      if (layout) {
        checkId(dialect, table, layout, id);
        const value = payloadLiteral(dialect, table, layout, data);
        // One round trip: the insert runs with the lock statement, guarded by the lock where the backend needs it.
        const hold = backend.hold(id, 'write');
        const before = hold.keepBefore?.() ?? [];
        let inserted: { lock: Lock; results: unknown[] };
        try {
          inserted = await lockWith(backend.driver, hold, id, 'write', acquireOptions, [...before, sql.insert(layout, id, value, backend.insertGuard?.(id)), ...hold.keep]);
        } catch (error) {
          throw backend.isDuplicate(error) ? new SessionExistsError(id, { cause: error }) : tooLarge(error, data);
        }
        if (backend.count(inserted.results[before.length]) === 0) {
          await settle(inserted.lock);
          throw new SessionExistsError(id);
        }
        return inserted.lock;
      }
      // The first insert of this store: the catalog is read with the lock, then the row inserted on it.
      const { lock, results } = await lockWith(backend.driver, backend.hold(id, 'write'), id, 'write', acquireOptions, [dialect.columnsQuery(table)]);
      await releasing(lock, async () => {
        const current = learn(results[0]);
        checkId(dialect, table, current, id);
        let written: unknown[];
        try {
          written = await writeHeld(lock, [sql.insert(current, id, payloadLiteral(dialect, table, current, data))]);
        } catch (error) {
          throw backend.isDuplicate(error) ? new SessionExistsError(id, { cause: error }) : tooLarge(error, data);
        }
        if (backend.count(written[0]) === 0) throw new SessionExistsError(id);
      });
      return lock;
    },

    async updateLocked(lock, id, data) {
      const current = await layoutHeld(lock);
      const value = payloadLiteral(dialect, table, current, data);
      let results: unknown[];
      try {
        results = await writeHeld(lock, [sql.update(current, id, value)]);
      } catch (error) {
        throw tooLarge(error, data);
      }
      if (backend.count(results[0]) === 0) throw new SessionNotFoundError(id);
    },

    async updateAndRelease(lock, id, data) {
      if (data === undefined) {
        await settle(lock);
        return;
      }
      const value = await releasing(lock, async () => payloadLiteral(dialect, table, await layoutHeld(lock), data));
      let results: unknown[];
      try {
        results = await settle(lock, [sql.update(layout!, id, value)]);
      } catch (error) {
        throw tooLarge(error, data);
      }
      if (backend.count(results[0]) === 0) throw new SessionNotFoundError(id);
    },

    async removeAndRelease(lock, id) {
      await settle(lock, [sql.remove(id)]);
    },
  };

  /** With a lease locker of this backend on the same pool: its fused access, made once per locker. */
  const leaseAccesses = new WeakMap<Locker, FusedAccess>();
  function leaseAccessWith(locker: Locker): FusedAccess | undefined {
    const leases = leasesOf(locker);
    if (!leases || leases.driver.pool !== backend.driver.pool) return undefined;
    let fused = leaseAccesses.get(locker);
    if (!fused) {
      fused = leaseAccess({
        fenced: backend.fenced(table, sql, leases.sql),
        layout: layoutOnPool,
        payload: (current, data) => payloadLiteral(dialect, table, current, data),
        checkId: (current, id) => checkId(dialect, table, current, id),
        stored: (row) => stored(row as SessionRow),
        isDuplicate: backend.isDuplicate,
        tooLarge,
      }, leases);
      leaseAccesses.set(locker, fused);
    }
    return fused;
  }

  const recommended: StoreCapabilities = { binary: true, text: true, updatedAt: true, persistent: true, list: true, purge: true };
  const isPerl = () => (layout ? layout.schema === 'perl' : options.schema === 'perl');

  /**
   * Batch after batch until one comes back short; each statement commits on its own, so none holds
   * many rows. The cutoff is the server's time when purge starts: a session saved while it runs is kept.
   */
  async function purge({ olderThan, onProgress }: PurgeOptions): Promise<number> {
    if (typeof olderThan !== 'number' || !(olderThan >= 0)) throw new TypeError(`${dialect.part}: purge needs olderThan, a number of ms >= 0`);
    if ((await layoutOnPool()).schema === 'perl') refusePerl('purge');
    const cutoff = Number(backend.rows(await backend.query(sql.cutoff(olderThan)))[0]!.cutoff);
    let removed = 0;
    for (;;) {
      const batch = backend.count(await backend.query(sql.purge(cutoff, PURGE_BATCH)));
      removed += batch;
      onProgress?.({ removed, examined: removed });
      if (batch < PURGE_BATCH) return removed;
    }
  }

  const store: SqlStore = {
    name: dialect.part.replace(/Store$/, ''),
    table: options.table,
    get capabilities(): StoreCapabilities {
      if (!layout) return options.schema === 'perl' ? { ...recommended, ...backend.perlCapabilities, updatedAt: false, purge: false } : recommended;
      const perl = layout.schema === 'perl';
      const maxPayloadBytes = layout.maxBytes < 2 ** 31 ? layout.maxBytes : undefined;
      return { binary: !layout.text, text: true, maxPayloadBytes, updatedAt: !perl, persistent: true, list: true, purge: !perl };
    },
    // Perl's table has no updated_at: no purge (present or not as the capabilities say, once known).
    get purge() {
      return isPerl() ? undefined : purge;
    },
    async detectSchema() {
      return (await layoutOnPool()).schema;
    },
    async insert(id, data) {
      const current = await layoutOnPool();
      checkId(dialect, table, current, id);
      let result: unknown;
      try {
        result = await backend.query(sql.insert(current, id, payloadLiteral(dialect, table, current, data)));
      } catch (error) {
        throw backend.isDuplicate(error) ? new SessionExistsError(id, { cause: error }) : tooLarge(error, data);
      }
      if (backend.count(result) === 0) throw new SessionExistsError(id);
    },
    async update(id, data) {
      const current = await layoutOnPool();
      let result: unknown;
      try {
        result = await backend.query(sql.update(current, id, payloadLiteral(dialect, table, current, data)));
      } catch (error) {
        throw tooLarge(error, data);
      }
      if (backend.count(result) === 0) throw new SessionNotFoundError(id);
    },
    async materialize(id) {
      const [row] = backend.rows(await backend.query(sql.select(await layoutOnPool(), id))) as SessionRow[];
      if (!row) throw new SessionNotFoundError(id);
      return stored(row);
    },
    async remove(id) {
      await backend.query(sql.remove(id));
    },
    async *list(): AsyncIterable<StoredSessionInfo> {
      const current = await layoutOnPool();
      for (let after = ''; ;) {
        const rows = backend.rows(await backend.query(sql.list(current, after, LIST_BATCH))) as SessionRow[];
        for (const row of rows) yield { id: String(row.id), size: Number(row.size ?? 0), updatedAt: stored(row).updatedAt };
        if (rows.length < LIST_BATCH) return;
        after = String(rows.at(-1)!.id);
      }
    },
    async createTable() {
      await backend.query(dialect.createTable(table, options.schema ?? 'recommended'));
      layout = undefined;
    },
    fuse: (locker) => (sameBackend(locker) ? access : leaseAccessWith(locker)),
    close: () => backend.close(),
  };
  return store;
}
