import type { OpenOptions } from '@tied/core';
import type { MySQLPool } from '@tied/stores/mysql';
import { dataSourceUrl } from './dbi-data-source.js';
import { withDriver } from './driver.js';
import { configuredFlexFlavor } from './flex.js';
import { registerPart } from './registry.js';
import { detectSchema } from './sql-schema.js';

/** What `MySQLSession.open` takes: the connection, the store's options, and open options. */
export interface MySQLSessionArgs extends OpenOptions {
  /** A mysql2 pool you already have (tied never ends it); with `multipleStatements: true` a cycle costs 2 round trips. */
  pool?: MySQLPool;
  /** Or tied makes a pool for this URI; `MySQLSession.close({ uri })` ends it. */
  uri?: string;
  /** Default `sessions`. */
  table?: string;
  /**
   * Left out, the table decides: Perl's `sessions (id char(32), a_session blob)` works as it is (then
   * purge and maxAge are refused with a TypeError), a table with `updated_at` is the recommended one.
   * Also which table `createTable` makes (default 'recommended').
   */
  schema?: 'recommended' | 'perl';
  /** Create the table (and with `lock: 'MySQLLease'` the lease table), unless it exists, when the parts are made. */
  createTable?: boolean;
  /**
   * The lock: `'MySQL'` (GET_LOCK on a pooled connection held from open to release; Perl's lock, the
   * default) or `'MySQLLease'` (a row of a lease table, fenced writes: a held session holds no connection).
   */
  lock?: 'MySQL' | 'MySQLLease';
  /** With `lock: 'MySQLLease'`: how long a lock outlives a holder that stopped renewing it, in ms. Default 10,000. */
  lease?: number;
  /** With `lock: 'MySQLLease'`: the lease table. Default `<table>_leases`. */
  leaseTable?: string;
}

const MYSQL_PARTS = { store: 'MySQL', lock: 'MySQL', generate: 'Nanoid', serialize: 'SuperJSON' } as const;

/** The connection a part gets from Flex arguments: a pool (Perl's Handle, LockHandle), a uri, or Perl's DataSource. */
function connection(args: Record<string, unknown>, forLock: boolean) {
  const dataSource = (forLock ? dataSourceUrl(args, 'mysql', 'Lock') : undefined) ?? dataSourceUrl(args, 'mysql');
  return { pool: args.pool as MySQLPool | undefined, uri: (args.uri as string | undefined) ?? dataSource };
}

registerPart('store', 'MySQL', async (args) => {
  const { mysqlStore } = await withDriver('mysql2', import('@tied/stores/mysql'));
  const store = mysqlStore({ ...connection(args, false), table: args.table as string | undefined, schema: args.schema as MySQLSessionArgs['schema'] });
  if (args.createTable === true) await store.createTable();
  await detectSchema(store);
  return store;
}, { arguments: ['pool', 'uri', 'table', 'schema', 'createTable', 'DataSource', 'UserName', 'Password'] });
registerPart('lock', 'MySQL', async (args) => {
  const { mysqlLocker } = await withDriver('mysql2', import('@tied/stores/mysql'));
  return mysqlLocker(connection(args, true));
}, { arguments: ['pool', 'uri', 'DataSource', 'UserName', 'Password', 'LockDataSource', 'LockUserName', 'LockPassword'] });
registerPart('lock', 'MySQLLease', async (args) => {
  const { mysqlLeaseLocker } = await withDriver('mysql2', import('@tied/stores/mysql'));
  const table = (args.leaseTable as string | undefined) ?? (typeof args.table === 'string' ? `${args.table}_leases` : undefined);
  const locker = mysqlLeaseLocker({ ...connection(args, true), table, lease: args.lease as number | undefined });
  if (args.createTable === true) await locker.createTable();
  return locker;
}, { arguments: ['pool', 'uri', 'table', 'leaseTable', 'lease', 'createTable', 'DataSource', 'UserName', 'Password', 'LockDataSource', 'LockUserName', 'LockPassword'] });

/**
 * Sessions in a MySQL or MariaDB table, locked with GET_LOCK, nanoid ids, superjson. Every open with
 * the same pool (or uri) and options shares one set of parts.
 */
export const MySQLSession = configuredFlexFlavor<MySQLSessionArgs>(MYSQL_PARTS, ['MySQL', 'MySQLLease']);
