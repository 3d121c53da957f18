import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import pg from 'pg';
import { serviceUnavailable, testOrSkip } from '@tied/conformance/jest';
import { LockLostError, lockKeySql } from '@tied/lockers/postgres';
import { postgresStore } from '@tied/stores/postgres';
import { LockTimeoutError, PostgresSession, openSession, tied, type PostgresSessionArgs } from 'tied';
import { holdInChild, incrementInChildren, killHard } from './helpers/sql-children.js';

const POSTGRES = { host: '127.0.0.1', port: 5432, user: 'postgres', database: 'test' };
const pool = new pg.Pool({ ...POSTGRES, max: 4 });
const admin = new pg.Pool({ ...POSTGRES, max: 2 });
const skip = await serviceUnavailable('PostgreSQL at 127.0.0.1:5432', () => admin.query('SELECT 1'));
const it = testOrSkip(skip);

const TABLE = 'tied_test_postgres_session';
const CREATED = 'tied_test_postgres_created';
const args: PostgresSessionArgs = { pool, table: TABLE };

const rejectionOf = (promise: Promise<unknown>): Promise<unknown> =>
  promise.then(() => { throw new Error('expected a rejection'); }, (error: unknown) => error);

/** A session with `count: 0`; returns its id. */
async function counter(): Promise<string> {
  const session = await PostgresSession.open<{ count: number }>(undefined, args);
  session.count = 0;
  await tied(session)!.release();
  return tied(session)!.id;
}

/** The backends holding the advisory lock of `id`. */
async function holdersOf(id: string): Promise<number[]> {
  const { rows } = await admin.query<{ pid: number }>(
    `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 1 AND granted
       AND ((classid::bigint << 32) | objid::bigint) = ${lockKeySql(id)}`,
  );
  return rows.map((row) => row.pid);
}

/** Whether the server has freed the advisory lock of `id`, waiting up to 2 s. */
async function lockFreed(id: string): Promise<boolean> {
  for (const started = Date.now(); Date.now() - started < 2000; await sleep(10)) {
    if ((await holdersOf(id)).length === 0) return true;
  }
  return false;
}

async function countOf(id: string): Promise<number> {
  const session = await PostgresSession.open<{ count: number }>(id, { ...args, readonly: true });
  const { count } = session;
  await tied(session)!.release();
  return count;
}

if (skip === undefined) {
  beforeAll(async () => {
    await admin.query(`DROP TABLE IF EXISTS ${TABLE}; DROP TABLE IF EXISTS ${CREATED}`);
    await postgresStore({ pool, table: TABLE }).createTable();
  });
}
afterAll(async () => {
  if (skip === undefined) {
    await admin.query(`DROP TABLE IF EXISTS ${TABLE}; DROP TABLE IF EXISTS ${CREATED}`);
  }
  await Promise.all([admin.end(), pool.end()]);
});

describe('PostgresSession', () => {
  it('opens, saves and reopens on your pool; every open with that pool shares one set of parts, fused', async () => {
    const session = await PostgresSession.open<{ user: { name: string } }>(undefined, args);
    session.user = { name: 'Ann' };
    const id = session._session_id;
    await tied(session)!.release();
    const again = await PostgresSession.open<{ user: { name: string } }>(id, args);
    expect(again.user).toEqual({ name: 'Ann' });
    await tied(again)!.release();

    const flavor = await PostgresSession.flavor(args);
    expect(await PostgresSession.flavor({ pool, table: TABLE })).toBe(flavor);
    expect(flavor.parts.store.fuse!(flavor.parts.locker)).toBeDefined();
    expect([flavor.parts.store.name, flavor.parts.locker.name, flavor.parts.generator.name, flavor.parts.serializer.name]).toEqual(['postgres', 'postgres', 'nanoid', 'superjson']);
  });

  it("Flex names Postgres for store and lock, with Perl's Handle and TableName, or DataSource, UserName and Password", async () => {
    const session = await openSession<{ n: number }>(undefined, { store: 'postgres', lock: 'POSTGRES', Handle: pool, TableName: TABLE });
    session.n = 7;
    const id = session._session_id;
    await tied(session)!.release();
    const perlArgs = { DataSource: 'dbi:Pg:dbname=test;host=127.0.0.1;port=5432', UserName: 'postgres', Password: '', TableName: TABLE };
    const again = await openSession<{ n: number }>(id, { store: 'Postgres', lock: 'Postgres', ...perlArgs });
    expect(again.n).toBe(7);
    await tied(again)!.release();
    const flavor = await PostgresSession.flavor({ table: TABLE, DataSource: perlArgs.DataSource, UserName: 'postgres', Password: '' } as PostgresSessionArgs);
    expect(flavor.parts.store.fuse!(flavor.parts.locker)).toBeDefined();
    await flavor.close();
  });

  it('createTable: true creates the table when the parts are made', async () => {
    const session = await PostgresSession.open(undefined, { pool, table: CREATED, createTable: true });
    await tied(session)!.release();
    const { rowCount } = await admin.query(`SELECT id FROM ${CREATED}`);
    expect(rowCount).toBe(1);
  });

  it('4 processes × 250 increments of one session end at exactly 1000', async () => {
    const id = await counter();
    await incrementInChildren('postgres', TABLE, id, 4, 250);
    expect(await countOf(id)).toBe(1000);
  });

  it('its connection killed on the server mid-cycle: LockLostError at release, the lock freed, the stored version whole, the dead client not reused', async () => {
    const id = await counter();
    const session = await PostgresSession.open<{ count: number }>(id, args);
    const [killed] = await holdersOf(id);
    await admin.query('SELECT pg_terminate_backend($1)', [killed]);
    session.count = 99;
    const error = await rejectionOf(tied(session)!.release());
    expect(error).toBeInstanceOf(LockLostError);
    expect(error).toMatchObject({ code: 'ERR_LOCK_LOST', sessionId: id });
    // pg_terminate_backend returns before the backend has ended; the server frees its locks as it ends.
    expect(await lockFreed(id)).toBe(true);
    expect(await countOf(id)).toBe(0);
    // Every connection the pool hands out now is a live one, and none is the killed one.
    const clients = await Promise.all(Array.from({ length: 4 }, () => pool.connect()));
    const pids = await Promise.all(clients.map(async (client) => (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid));
    for (const client of clients) client.release();
    expect(pids).not.toContain(killed);
  });

  it('a lock holder SIGKILLed: the server frees its lock with its connection', async () => {
    const id = await counter();
    const holder = await holdInChild('postgres', TABLE, id);
    expect(await rejectionOf(PostgresSession.open(id, { ...args, lockTimeout: 200 }))).toBeInstanceOf(LockTimeoutError);
    await killHard(holder);
    const started = Date.now();
    const session = await PostgresSession.open<{ count: number }>(id, { ...args, lockTimeout: 10_000 });
    expect(Date.now() - started).toBeLessThan(5000);
    expect(session.count).toBe(0);
    await tied(session)!.release();
  });
});
