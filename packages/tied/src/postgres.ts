import type { OpenOptions } from '@tied/core';
import type { PostgresPool } from '@tied/stores/postgres';
import { dataSourceUrl } from './dbi-data-source.js';
import { withDriver } from './driver.js';
import { configuredFlexFlavor } from './flex.js';
import { registerPart } from './registry.js';
import { detectSchema } from './sql-schema.js';

/** What `PostgresSession.open` takes: the connection, the store's options, and open options. */
export interface PostgresSessionArgs extends OpenOptions {
  /** A pg Pool you already have (tied never ends it). */
  pool?: PostgresPool;
  /** Or tied makes a pool for this connection string; `PostgresSession.close({ connectionString })` ends it. */
  connectionString?: string;
  /** Default `sessions`. */
  table?: string;
  /**
   * Left out, the table decides: Perl's `sessions (id char(32), a_session text)` works as it is (text
   * serializers only; purge and maxAge are refused with a TypeError), a table with `updated_at` is the
   * recommended one. Also which table `createTable` makes (default 'recommended').
   */
  schema?: 'recommended' | 'perl';
  /** Create the table (and with `lock: 'PostgresLease'` the lease table), unless it exists, when the parts are made. */
  createTable?: boolean;
  /**
   * The lock: `'Postgres'` (advisory locks on a pooled connection held from open to release; Perl's lock, the
   * default) or `'PostgresLease'` (a row of a lease table, fenced writes: a held session holds no connection).
   */
  lock?: 'Postgres' | 'PostgresLease';
  /** With `lock: 'PostgresLease'`: how long a lock outlives a holder that stopped renewing it, in ms. Default 10,000. */
  lease?: number;
  /** With `lock: 'PostgresLease'`: the lease table. Default `<table>_leases`. */
  leaseTable?: string;
}

const POSTGRES_PARTS = { store: 'Postgres', lock: 'Postgres', generate: 'Nanoid', serialize: 'SuperJSON' } as const;

/** The connection a part gets from Flex arguments: a pool (Perl's Handle, LockHandle), a connection string, or Perl's DataSource. */
function connection(args: Record<string, unknown>, forLock: boolean) {
  const dataSource = (forLock ? dataSourceUrl(args, 'Pg', 'Lock') : undefined) ?? dataSourceUrl(args, 'Pg');
  return { pool: args.pool as PostgresPool | undefined, connectionString: (args.connectionString as string | undefined) ?? dataSource };
}

registerPart('store', 'Postgres', async (args) => {
  const { postgresStore } = await withDriver('pg', import('@tied/stores/postgres'));
  const store = postgresStore({ ...connection(args, false), table: args.table as string | undefined, schema: args.schema as PostgresSessionArgs['schema'] });
  if (args.createTable === true) await store.createTable();
  await detectSchema(store);
  return store;
}, { arguments: ['pool', 'connectionString', 'table', 'schema', 'createTable', 'DataSource', 'UserName', 'Password'] });
registerPart('lock', 'Postgres', async (args) => {
  const { postgresLocker } = await withDriver('pg', import('@tied/stores/postgres'));
  return postgresLocker(connection(args, true));
}, { arguments: ['pool', 'connectionString', 'DataSource', 'UserName', 'Password', 'LockDataSource', 'LockUserName', 'LockPassword'] });
registerPart('lock', 'PostgresLease', async (args) => {
  const { postgresLeaseLocker } = await withDriver('pg', import('@tied/stores/postgres'));
  const table = (args.leaseTable as string | undefined) ?? (typeof args.table === 'string' ? `${args.table}_leases` : undefined);
  const locker = postgresLeaseLocker({ ...connection(args, true), table, lease: args.lease as number | undefined });
  if (args.createTable === true) await locker.createTable();
  return locker;
}, { arguments: ['pool', 'connectionString', 'table', 'leaseTable', 'lease', 'createTable', 'DataSource', 'UserName', 'Password', 'LockDataSource', 'LockUserName', 'LockPassword'] });

/**
 * Sessions in a PostgreSQL table, locked with advisory locks, nanoid ids, superjson. Every open with
 * the same pool (or connection string) and options shares one set of parts.
 */
export const PostgresSession = configuredFlexFlavor<PostgresSessionArgs>(POSTGRES_PARTS, ['Postgres', 'PostgresLease']);
