import { sqlStore, type SqlBackend, type SqlStore } from '../sql/store.js';
import type { Schema } from '../sql/table.js';
import { heldByThisConnection, mysqlCount, mysqlHold, mysqlPool, mysqlRows, type MySQLConnectionOptions } from './connection.js';
import { mysqlFenced } from './lease.js';
import { mysqlDialect } from './dialect.js';
import { poolOfLocker } from './locker.js';

export interface MySQLStoreOptions extends MySQLConnectionOptions {
  /** The table, `name` or `database.name`. Default: the uri's `?table=`, else `sessions`. */
  table?: string;
  /**
   * Left out (the default), the table's layout decides: with `updated_at` it is the recommended
   * schema (`purge`, `maxAge`), without it Perl's (`id char(32), a_session blob`, used as it is).
   * 'recommended' or 'perl' also says which table `createTable()` makes; 'recommended' refuses a
   * table without `updated_at`.
   */
  schema?: Schema;
}

export type MySQLStore = SqlStore;

const ER_DUP_ENTRY = 1062;
const ER_DATA_TOO_LONG = 1406;
const errno = (error: unknown): unknown => (error as { errno?: unknown } | null)?.errno;

/**
 * Sessions in a MySQL or MariaDB table, Apache::Session::Store::MySQL's layout: the id and the
 * serialized session in `a_session`. Sizes are checked in the column's own unit before anything is
 * sent, so a session too large for it is refused (`SessionTooLargeError`) whatever the sql_mode.
 * With `mysqlLocker` on the same pool, a locked cycle costs 2 round trips, every write on the
 * connection that holds the lock.
 */
export function mysqlStore(options: MySQLStoreOptions): MySQLStore {
  const table = options.table ?? (options.uri ? new URL(options.uri).searchParams.get('table') : null) ?? 'sessions';
  if (options.schema !== undefined && options.schema !== 'perl' && options.schema !== 'recommended') {
    throw new TypeError(`mysqlStore: schema must be 'recommended' or 'perl', got ${JSON.stringify(options.schema)}`);
  }
  mysqlDialect.parseTable(table);
  const { pool, driver, query, close } = mysqlPool(options, 'mysqlStore');
  const backend: SqlBackend<unknown> = {
    driver: driver as SqlBackend<unknown>['driver'],
    dialect: mysqlDialect,
    hold: mysqlHold,
    query,
    rows: mysqlRows,
    count: mysqlCount,
    isDuplicate: (error) => errno(error) === ER_DUP_ENTRY,
    isTooLong: (error) => errno(error) === ER_DATA_TOO_LONG,
    // GET_LOCK and the insert go in one round trip: the insert writes only when the lock was granted.
    insertGuard: heldByThisConnection,
    fenced: mysqlFenced,
    // Perl's a_session blob.
    perlCapabilities: { binary: true, maxPayloadBytes: 65_535 },
    close,
  };
  return sqlStore(backend, { table, schema: options.schema }, (locker) => poolOfLocker(locker) === pool);
}
