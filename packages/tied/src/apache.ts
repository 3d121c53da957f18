/**
 * `tied/apache`: Perl's Apache::Session::File, ::MySQL and ::Postgres with the very parts Perl's
 * classes use — hex ids of 32 characters (Generate::MD5), Storable (Base64 for Postgres), Perl's
 * file layout, table and lock names — so a Node process and a Perl process share one session store,
 * locks included. See docs/migrating-from-perl.md.
 */
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { OPEN_OPTION_NAMES, defineSession, type OpenOptions, type SessionParts } from '@tied/core';
import { hex } from '@tied/generators';
import { fileLocker } from '@tied/lockers/file';
import { base64 } from '@tied/serializers/base64';
import { storable } from '@tied/serializers/storable';
import { fileStore } from '@tied/stores/file';
import type { MySQLPool } from '@tied/stores/mysql';
import type { PostgresPool } from '@tied/stores/postgres';
import { dataSourceUrl } from './dbi-data-source.js';
import { detectSchema } from './sql-schema.js';
import { withDriver } from './driver.js';
import { cachedFlavor } from './flavor-cache.js';
import { configuredFlavor, type ConfiguredFlavor } from './flex.js';

/** What every Perl flavor takes beside the open options: the length of new ids. */
interface PerlIdArgs extends OpenOptions {
  /** Length of new ids (Perl's IDLength); default 32. Ids Perl made of any length are accepted. */
  length?: number;
  IDLength?: number;
  /** Perl's `Transaction => 1` is `transaction: true`, tied's default; Perl's default is 0. */
  Transaction?: number | boolean;
}

export interface ApacheFileArgs extends PerlIdArgs {
  /**
   * Where the session files are (Perl's Directory). Default: `<os.tmpdir()>/tied-apache-<uid>`, a
   * private folder, not Perl's `/tmp` — to share Perl's sessions, give Perl's Directory and LockDirectory.
   */
  directory?: string;
  Directory?: string;
  /**
   * Where the `Apache-Session-<id>.lock` files are (Perl's LockDirectory). Default: the same private
   * folder, not Perl's world-writable `/tmp`; pass `LockDirectory: '/tmp'` to lock with a Perl that
   * uses its default.
   */
  lockDirectory?: string;
  LockDirectory?: string;
}

export interface ApacheMySQLArgs extends PerlIdArgs {
  /** A mysql2 pool (`multipleStatements: true` saves round trips), shared by store and lock (Perl's Handle and LockHandle). */
  pool?: MySQLPool;
  Handle?: MySQLPool;
  LockHandle?: MySQLPool;
  /** `mysql://user:password@host/database`, or Perl's DataSource (`dbi:mysql:…`), UserName, Password: tied makes the pool. */
  uri?: string;
  DataSource?: string;
  UserName?: string;
  Password?: string;
  /** Default `sessions` (Perl's TableName). */
  table?: string;
  TableName?: string;
  /** 'perl' (default): Perl's `id char(32), a_session blob`; 'recommended' when you added `updated_at`. */
  schema?: 'perl' | 'recommended';
  /** Create the table of `schema`, unless it exists, when the parts are made. */
  createTable?: boolean;
}

export interface ApachePostgresArgs extends PerlIdArgs {
  /** A pg Pool (Perl's Handle); each held session keeps one of its clients, in a transaction. */
  pool?: PostgresPool;
  Handle?: PostgresPool;
  /** `postgres://user:password@host/database`, or Perl's DataSource (`dbi:Pg:…`), UserName, Password: tied makes the pool. */
  connectionString?: string;
  DataSource?: string;
  UserName?: string;
  Password?: string;
  /** Default `sessions` (Perl's TableName). */
  table?: string;
  TableName?: string;
  /** 'perl' (default): Perl's `id char(32), a_session text`; 'recommended' when you added `updated_at`. */
  schema?: 'perl' | 'recommended';
  /** Create the table of `schema`, unless it exists, when the parts are made. */
  createTable?: boolean;
}

/**
 * tied/apache File's default Directory and LockDirectory: one private folder per user (created 0700),
 * instead of Perl's /tmp, where anyone can plant or hold a lock file. Sessions are not left in /tmp
 * either: with Perl's sessions visible but not Perl's locks, a Perl and a Node process could write one
 * session at once; with both private, a setup that shares Perl's store must name both directories.
 */
const PRIVATE_DIRECTORY = join(tmpdir(), `tied-apache-${process.getuid?.() ?? userInfo().username}`);
const PERL_TABLE = 'sessions';

/**
 * A flavor per configuration, so that parts — and the pools they hold — are made once and shared by
 * every open with the same arguments. Perl's argument names are accepted beside ours.
 */
function perlFlavor<A extends PerlIdArgs>(kind: string, accepted: readonly string[], build: (args: Record<string, unknown>) => Promise<SessionParts>): ConfiguredFlavor<A> {
  const known = new Set(['length', ...accepted]);
  const cacheKind = `apache:${kind}`;
  return configuredFlavor<A>(cacheKind, (partArgs) => {
    const unknown = Object.keys(partArgs).find((key) => !known.has(key));
    if (unknown !== undefined) {
      return Promise.reject(new TypeError(`Unknown argument "${unknown}" for tied/apache ${kind}; it takes ${[...known].join(', ')} (or Perl's names for them) and the open options ${[...OPEN_OPTION_NAMES].join(', ')}`));
    }
    return cachedFlavor(cacheKind, partArgs, async () => defineSession(await build(partArgs)));
  });
}

const DBI_ARGUMENTS = ['DataSource', 'UserName', 'Password'];

const generator = (args: Record<string, unknown>) => hex({ length: args.length as number | undefined });
const schema = (args: Record<string, unknown>) => (args.schema as 'perl' | 'recommended' | undefined) ?? 'perl';
const table = (args: Record<string, unknown>) => (args.table as string | undefined) ?? PERL_TABLE;

/** Apache::Session::File: Store::File, Lock::File, Generate::MD5, Serialize::Storable. */
export const File = perlFlavor<ApacheFileArgs>('File', ['directory', 'lockDirectory'], async (args) => ({
  store: fileStore({ directory: (args.directory as string | undefined) ?? PRIVATE_DIRECTORY }),
  locker: fileLocker({ lockDirectory: (args.lockDirectory as string | undefined) ?? PRIVATE_DIRECTORY }),
  generator: generator(args),
  serializer: storable(),
}));

/** Apache::Session::MySQL: Store::MySQL, Lock::MySQL (`GET_LOCK('Apache-Session-<id>')`), Generate::MD5, Serialize::Storable. */
export const MySQL = perlFlavor<ApacheMySQLArgs>('MySQL', ['pool', 'uri', 'table', 'schema', 'createTable', ...DBI_ARGUMENTS], async (args) => {
  // The driver is loaded on first use, so tied/apache works without mysql2 installed.
  const { mysqlStore, mysqlLocker } = await withDriver('mysql2', import('@tied/stores/mysql'));
  const connection = { pool: args.pool as MySQLPool | undefined, uri: (args.uri as string | undefined) ?? dataSourceUrl(args, 'mysql') };
  const store = mysqlStore({ ...connection, table: table(args), schema: schema(args) });
  if (args.createTable === true) await store.createTable();
  await detectSchema(store);
  return { store, locker: mysqlLocker(connection), generator: generator(args), serializer: storable() };
});

/**
 * Apache::Session::Postgres with `Commit => 1`: Store::Postgres, whose `SELECT … FOR UPDATE` holds the
 * row locked in a transaction until release (Lock::Null: no other lock), Generate::MD5, Serialize::Base64.
 */
export const Postgres = perlFlavor<ApachePostgresArgs>('Postgres', ['pool', 'connectionString', 'table', 'schema', 'createTable', ...DBI_ARGUMENTS], async (args) => {
  const { postgresRowParts } = await withDriver('pg', import('@tied/stores/postgres'));
  const { store, locker } = postgresRowParts({
    pool: args.pool as PostgresPool | undefined,
    connectionString: (args.connectionString as string | undefined) ?? dataSourceUrl(args, 'Pg'),
    table: table(args),
    schema: schema(args),
  });
  if (args.createTable === true) await store.createTable();
  await detectSchema(store);
  return { store, locker, generator: generator(args), serializer: base64(storable()) };
});
