import type { LockMode } from '@tied/core';
import type { HoldStatements } from '../sql/held.js';
import { sqlStore, type SqlBackend, type SqlStore } from '../sql/store.js';
import type { Schema } from '../sql/table.js';
import { advisoryHold, postgresCount, postgresPool, postgresRows, type PostgresConnectionOptions } from './connection.js';
import { postgresFenced } from './lease.js';
import { postgresDialect } from './dialect.js';
import { poolOfLocker } from './locker.js';

export interface PostgresStoreOptions extends PostgresConnectionOptions {
  /** The table, `name` or `schema.name`, as you would write it unquoted. Default: the string's `?table=`, else `sessions`. */
  table?: string;
  /**
   * Left out (the default), the table's layout decides: with `updated_at` it is the recommended
   * schema (bytea, `purge`, `maxAge`), without it Perl's (`id char(32), a_session text`: text
   * serializers only, used as it is). 'recommended' or 'perl' also says which table `createTable()`
   * makes; 'recommended' refuses a table without `updated_at`.
   */
  schema?: Schema;
}

export type PostgresStore = SqlStore;

const UNIQUE_VIOLATION = '23505';
const STRING_DATA_RIGHT_TRUNCATION = '22001';
const code = (error: unknown): unknown => (error as { code?: unknown } | null)?.code;

/** The store of a PostgreSQL backend whose locks are taken by `hold`; `fusesWith` names the lockers it fuses with. */
export function postgresStoreWith(
  options: PostgresStoreOptions,
  part: string,
  hold: (id: string, mode: LockMode) => HoldStatements,
  fusesWith: (pool: object) => (locker: import('@tied/core').Locker) => boolean,
): PostgresStore {
  const table = options.table ?? (options.connectionString ? new URL(options.connectionString).searchParams.get('table') : null) ?? 'sessions';
  if (options.schema !== undefined && options.schema !== 'perl' && options.schema !== 'recommended') {
    throw new TypeError(`${part}: schema must be 'recommended' or 'perl', got ${JSON.stringify(options.schema)}`);
  }
  postgresDialect.parseTable(table);
  const { pool, driver, query, close } = postgresPool(options, part);
  const backend: SqlBackend<unknown> = {
    driver: driver as SqlBackend<unknown>['driver'],
    dialect: postgresDialect,
    hold,
    query,
    rows: postgresRows,
    count: postgresCount,
    isDuplicate: (error) => code(error) === UNIQUE_VIOLATION,
    isTooLong: (error) => code(error) === STRING_DATA_RIGHT_TRUNCATION,
    fenced: postgresFenced,
    // Perl's a_session text.
    perlCapabilities: { binary: false },
    close,
  };
  return sqlStore(backend, { table, schema: options.schema }, fusesWith(pool));
}

/**
 * Sessions in a PostgreSQL table, Apache::Session::Store::Postgres's layout: the id and the
 * serialized session in `a_session`. With `postgresLocker` on the same pool, a locked cycle costs
 * 2 round trips, every write on the client that holds the lock.
 */
export function postgresStore(options: PostgresStoreOptions): PostgresStore {
  return postgresStoreWith(options, 'postgresStore', advisoryHold, (pool) => (locker) => poolOfLocker(locker) === pool);
}
