import { setTimeout as sleep } from 'node:timers/promises';
import mysql from 'mysql2';
import pg from 'pg';
import { serviceUnavailable } from '@tied/conformance/jest';
import { lockName } from '@tied/lockers/mysql';
import { lockKeySql } from '@tied/lockers/postgres';
import { MySQLSession, PostgresSession, tied, type Flavor, type Session } from 'tied';
import type { SqlBackend } from './sql-children.js';

/** A pool of either driver, as the tests make and end it. */
export interface TestPool {
  readonly pool: object;
  end(): Promise<void>;
}

/**
 * What the backend tests of MySQL and PostgreSQL need of their server, so that one test runs on both:
 * an admin connection, pools with session settings, and the connection holding a session's lock.
 */
export interface SqlKit {
  readonly backend: SqlBackend;
  readonly skip: string | undefined;
  /** Runs SQL as the administrator; the rows. */
  admin(sql: string, values?: unknown[]): Promise<Record<string, unknown>[]>;
  /** A pool of `size` connections, each running `setup` (SESSION settings) before its first statement. */
  pool(size: number, setup?: string): TestPool;
  /** A URI or connection string for tied to make its own pool from. */
  readonly uri: string;
  /** The flavor's open with this pool and table. */
  open<T extends object>(on: TestPool, table: string, id: string | undefined, options?: object): Promise<Session<T>>;
  flavor(on: TestPool, table: string): Promise<Flavor>;
  /** Kills, on the server, the connection that holds the lock of `id`, and waits until the lock is free. */
  killHolder(id: string): Promise<void>;
  /** `CREATE TABLE` of Perl's schema with a text payload column of `payloadType`. */
  perlTextTable(table: string, payloadType: string): string;
  end(): Promise<void>;
}

const MYSQL = { host: '127.0.0.1', port: 3306, user: 'root', database: 'test' };
const POSTGRES = { host: '127.0.0.1', port: 5432, user: 'postgres', database: 'test' };

async function waitUntil(check: () => Promise<boolean>, what: string): Promise<void> {
  for (const started = Date.now(); Date.now() - started < 5000; await sleep(10)) if (await check()) return;
  throw new Error(`timed out waiting until ${what}`);
}

export async function mysqlKit(): Promise<SqlKit> {
  const adminPool = mysql.createPool({ ...MYSQL, connectionLimit: 2 }).promise();
  const skip = await serviceUnavailable('MariaDB at 127.0.0.1:3306', () => adminPool.query('SELECT 1'));
  const admin = async (sql: string, values: unknown[] = []) => (await adminPool.query(sql, values))[0] as Record<string, unknown>[];
  const holder = async (id: string) => (await admin('SELECT IS_USED_LOCK(?) AS holder', [lockName(id)]))[0]!.holder as number | null;
  return {
    backend: 'mysql',
    skip,
    admin,
    uri: `mysql://root@127.0.0.1:3306/test`,
    pool(size, setup) {
      const pool = mysql.createPool({ ...MYSQL, multipleStatements: true, connectionLimit: size });
      if (setup) pool.on('connection', (connection) => connection.query(setup));
      return { pool, end: () => pool.promise().end() };
    },
    open: <T extends object>(on: TestPool, table: string, id: string | undefined, options = {}) =>
      MySQLSession.open<T>(id as string, { pool: on.pool as never, table, ...options }) as Promise<Session<T>>,
    flavor: (on, table) => MySQLSession.flavor({ pool: on.pool as never, table }),
    async killHolder(id) {
      const thread = await holder(id);
      if (thread === null) throw new Error(`no connection holds the lock of ${id}`);
      await admin(`KILL ${Number(thread)}`);
      await waitUntil(async () => (await holder(id)) !== thread, 'the killed connection lets go of its lock');
    },
    perlTextTable: (table, payloadType) => `CREATE TABLE ${table} (id char(32) not null primary key, a_session ${payloadType} CHARACTER SET utf8mb4)`,
    end: () => adminPool.end(),
  };
}

export async function postgresKit(): Promise<SqlKit> {
  const adminPool = new pg.Pool({ ...POSTGRES, max: 2 });
  const skip = await serviceUnavailable('PostgreSQL at 127.0.0.1:5432', () => adminPool.query('SELECT 1'));
  const admin = async (sql: string, values: unknown[] = []) => (await adminPool.query(sql, values)).rows as Record<string, unknown>[];
  const holders = async (id: string) => (await admin(
    `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 1 AND granted AND ((classid::bigint << 32) | objid::bigint) = ${lockKeySql(id)}`,
  )).map((row) => row.pid as number);
  return {
    backend: 'postgres',
    skip,
    admin,
    uri: 'postgres://postgres@127.0.0.1:5432/test',
    pool(size, setup) {
      // Startup options: the setting is in force before any statement.
      const pool = new pg.Pool({ ...POSTGRES, max: size, ...(setup ? { options: setup } : {}) });
      pool.on('error', () => {});
      return { pool, end: () => pool.end() };
    },
    open: <T extends object>(on: TestPool, table: string, id: string | undefined, options = {}) =>
      PostgresSession.open<T>(id as string, { pool: on.pool as never, table, ...options }) as Promise<Session<T>>,
    flavor: (on, table) => PostgresSession.flavor({ pool: on.pool as never, table }),
    async killHolder(id) {
      const [pid] = await holders(id);
      if (pid === undefined) throw new Error(`no backend holds the lock of ${id}`);
      await admin('SELECT pg_terminate_backend($1)', [pid]);
      await waitUntil(async () => !(await holders(id)).includes(pid), 'the terminated backend lets go of its lock');
    },
    perlTextTable: (table, payloadType) => `CREATE TABLE ${table} (id char(32) not null primary key, a_session ${payloadType})`,
    end: () => adminPool.end(),
  };
}

/** How a test opens sessions of one table. */
export type Opener = <T extends object>(id: string | undefined, options?: object) => Promise<Session<T>>;

/** Counters kept in sessions opened by `open`: `create` makes one at 0 (its id), `read` reads one without writing. */
export function counters(open: Opener) {
  return {
    async create(): Promise<string> {
      const session = await open<{ count: number }>(undefined);
      session.count = 0;
      await tied(session).release();
      return tied(session).id;
    },
    async read(id: string): Promise<number> {
      const session = await open<{ count: number }>(id, { readonly: true });
      const { count } = session;
      await tied(session).release();
      return count;
    },
  };
}
