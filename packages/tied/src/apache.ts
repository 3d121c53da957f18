/**
 * `tied/apache`: Perl's Apache::Session::File, ::MySQL and ::Postgres with the very parts Perl's
 * classes use — hex ids of 32 characters (Generate::MD5), Storable (Base64 for Postgres), Perl's
 * file layout, table and lock names — so a Node process and a Perl process share one session store,
 * locks included. See docs/migrating-from-perl.md.
 */
import { defineSession, type Flavor, type OpenOptions, type Session, type SessionData, type SessionParts } from '@tied/core';
import { hex } from '@tied/generators';
import { fileLocker } from '@tied/lockers/file';
import { base64 } from '@tied/serializers/base64';
import { storable } from '@tied/serializers/storable';
import { fileStore } from '@tied/stores/file';
import type { MySQLPool } from '@tied/stores/mysql';
import type { PostgresConnectionOptions } from '@tied/stores/postgres';
import { dataSourceUrl } from './dbi-data-source.js';
import { splitFlexArgs, type FlexArgs } from './flex.js';

/** What every Perl flavor takes beside the open options: the length of new ids. */
interface PerlIdArgs extends OpenOptions {
  /** Length of new ids (Perl's IDLength); default 32. Ids Perl made of any length are accepted. */
  length?: number;
  IDLength?: number;
  /** Perl's `Transaction => 1` is `transaction: true`, tied's default; Perl's default is 0. */
  Transaction?: number | boolean;
}

export interface ApacheFileArgs extends PerlIdArgs {
  /** Where the session files are (Perl's Directory). Default `/tmp`, as in Perl. */
  directory?: string;
  Directory?: string;
  /** Where the `Apache-Session-<id>.lock` files are (Perl's LockDirectory). Default `/tmp`, as in Perl. */
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
  pool?: PostgresConnectionOptions['pool'];
  Handle?: PostgresConnectionOptions['pool'];
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

/** A Perl flavor: `open` as on any flavor, with the backend's arguments beside the open options. */
export interface PerlFlavor<A> {
  /** Opens the session `id`, or a new one when `id` is undefined. */
  open<T extends object = SessionData>(id?: string, args?: A): Promise<Session<T>>;
  /** The flavor `open` uses for these arguments: its parts, or `close()` for a pool tied made. */
  flavor(args?: A): Promise<Flavor>;
}

/** Perl's default Directory and LockDirectory. */
const PERL_DEFAULT_DIRECTORY = '/tmp';
const PERL_TABLE = 'sessions';

const objectIds = new WeakMap<object, number>();
let nextObjectId = 0;

/** A key that tells configurations apart: values as they are, objects (pools) by identity. */
function configurationKey(args: Record<string, unknown>): string {
  return JSON.stringify(Object.keys(args).sort().map((key) => {
    const value = args[key];
    if (typeof value !== 'object' && typeof value !== 'function' || value === null) return [key, value];
    let id = objectIds.get(value);
    if (id === undefined) objectIds.set(value, id = nextObjectId++);
    return [key, `#${id}`];
  }));
}

/**
 * A flavor per configuration, so that parts — and the pools they hold — are made once and shared by
 * every open with the same arguments. Perl's argument names are accepted beside ours.
 */
function perlFlavor<A extends PerlIdArgs>(build: (args: Record<string, unknown>) => Promise<SessionParts>): PerlFlavor<A> {
  const flavors = new Map<string, Promise<Flavor>>();
  const flavorOf = (partArgs: Record<string, unknown>): Promise<Flavor> => {
    const key = configurationKey(partArgs);
    let flavor = flavors.get(key);
    if (!flavor) {
      flavor = build(partArgs).then((parts) => defineSession(parts));
      flavors.set(key, flavor);
      flavor.catch(() => flavors.delete(key));
    }
    return flavor;
  };
  return {
    async open<T extends object = SessionData>(id?: string, args?: A): Promise<Session<T>> {
      const { partArgs, options } = splitFlexArgs({ ...args } as FlexArgs);
      return (await flavorOf(partArgs)).open<T>(id, options);
    },
    flavor: (args) => flavorOf(splitFlexArgs({ ...args } as FlexArgs).partArgs),
  };
}

const generator = (args: Record<string, unknown>) => hex({ length: args.length as number | undefined });
const schema = (args: Record<string, unknown>) => (args.schema as 'perl' | 'recommended' | undefined) ?? 'perl';
const table = (args: Record<string, unknown>) => (args.table as string | undefined) ?? PERL_TABLE;

/** Loads a part that needs a database driver, which is an optional peer: a missing one is named. */
async function withDriver<T>(driver: string, importing: Promise<T>): Promise<T> {
  try {
    return await importing;
  } catch (error) {
    if ((error as { code?: string }).code === 'ERR_MODULE_NOT_FOUND' && (error as Error).message.includes(`'${driver}'`)) {
      throw new Error(`tied/apache needs the ${driver} package for this flavor: npm install ${driver}`, { cause: error });
    }
    throw error;
  }
}

/** Apache::Session::File: Store::File, Lock::File, Generate::MD5, Serialize::Storable. */
export const File = perlFlavor<ApacheFileArgs>(async (args) => ({
  store: fileStore({ directory: (args.directory as string | undefined) ?? PERL_DEFAULT_DIRECTORY }),
  locker: fileLocker({ lockDirectory: (args.lockDirectory as string | undefined) ?? PERL_DEFAULT_DIRECTORY }),
  generator: generator(args),
  serializer: storable(),
}));

/** Apache::Session::MySQL: Store::MySQL, Lock::MySQL (`GET_LOCK('Apache-Session-<id>')`), Generate::MD5, Serialize::Storable. */
export const MySQL = perlFlavor<ApacheMySQLArgs>(async (args) => {
  // The driver is loaded on first use, so tied/apache works without mysql2 installed.
  const { mysqlStore } = await withDriver('mysql2', import('@tied/stores/mysql'));
  const { mysqlLocker } = await withDriver('mysql2', import('@tied/lockers/mysql'));
  const connection = { pool: args.pool as MySQLPool | undefined, uri: (args.uri as string | undefined) ?? dataSourceUrl(args, 'mysql') };
  const store = mysqlStore({ ...connection, table: table(args), schema: schema(args) });
  if (args.createTable === true) await store.createTable();
  return { store, locker: mysqlLocker(connection), generator: generator(args), serializer: storable() };
});

/**
 * Apache::Session::Postgres with `Commit => 1`: Store::Postgres, whose `SELECT … FOR UPDATE` holds the
 * row locked in a transaction until release (Lock::Null: no other lock), Generate::MD5, Serialize::Base64.
 */
export const Postgres = perlFlavor<ApachePostgresArgs>(async (args) => {
  const { postgresStore } = await withDriver('pg', import('@tied/stores/postgres'));
  const { postgresRowLocker } = await withDriver('pg', import('@tied/lockers/postgres-row'));
  const connection = {
    pool: args.pool as PostgresConnectionOptions['pool'],
    connectionString: (args.connectionString as string | undefined) ?? dataSourceUrl(args, 'Pg'),
  };
  const store = postgresStore({ ...connection, table: table(args), schema: schema(args) });
  if (args.createTable === true) await store.createTable();
  const locker = postgresRowLocker({ ...connection, table: table(args) });
  return { store: locker.guard(store), locker, generator: generator(args), serializer: base64(storable()) };
});
