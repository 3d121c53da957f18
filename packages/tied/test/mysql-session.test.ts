import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import mysql, { type RowDataPacket } from 'mysql2';
import { serviceUnavailable, testOrSkip } from '@tied/conformance/jest';
import { LockLostError, lockName } from '@tied/lockers/mysql';
import { mysqlStore } from '@tied/stores/mysql';
import { LockTimeoutError, MySQLSession, openSession, tied, type MySQLSessionArgs } from 'tied';
import { holdInChild, incrementInChildren, killHard } from './helpers/sql-children.js';

const MYSQL = { host: '127.0.0.1', port: 3306, user: 'root', database: 'test' };
const pool = mysql.createPool({ ...MYSQL, multipleStatements: true, connectionLimit: 4 });
const admin = mysql.createPool({ ...MYSQL, connectionLimit: 2 }).promise();
const skip = await serviceUnavailable('MariaDB at 127.0.0.1:3306', () => admin.query('SELECT 1'));
const it = testOrSkip(skip);

const TABLE = 'tied_test_mysql_session';
const CREATED = 'tied_test_mysql_created';
const args: MySQLSessionArgs = { pool, table: TABLE };

const rejectionOf = (promise: Promise<unknown>): Promise<unknown> =>
  promise.then(() => { throw new Error('expected a rejection'); }, (error: unknown) => error);

/** A session with `count: 0`; returns its id. */
async function counter(): Promise<string> {
  const session = await MySQLSession.open<{ count: number }>(undefined, args);
  session.count = 0;
  await tied(session)!.release();
  return tied(session)!.id;
}

/** Whether the server has freed the GET_LOCK lock of `id`, waiting up to 2 s. */
async function lockFreed(id: string): Promise<boolean> {
  for (const started = Date.now(); Date.now() - started < 2000; await sleep(10)) {
    const [[row]] = await admin.query<RowDataPacket[]>('SELECT IS_USED_LOCK(?) AS holder', [lockName(id)]);
    if (row!.holder === null) return true;
  }
  return false;
}

async function countOf(id: string): Promise<number> {
  const session = await MySQLSession.open<{ count: number }>(id, { ...args, readonly: true });
  const { count } = session;
  await tied(session)!.release();
  return count;
}

if (skip === undefined) {
  beforeAll(async () => {
    await admin.query(`DROP TABLE IF EXISTS ${TABLE}`);
    await admin.query(`DROP TABLE IF EXISTS ${CREATED}`);
    await mysqlStore({ pool, table: TABLE }).createTable();
  });
}
afterAll(async () => {
  if (skip === undefined) {
    await admin.query(`DROP TABLE IF EXISTS ${TABLE}`);
    await admin.query(`DROP TABLE IF EXISTS ${CREATED}`);
  }
  await Promise.all([admin.end(), pool.promise().end()]);
});

describe('MySQLSession', () => {
  it('opens, saves and reopens on your pool; every open with that pool shares one set of parts, fused', async () => {
    const session = await MySQLSession.open<{ user: { name: string } }>(undefined, args);
    session.user = { name: 'Ann' };
    const id = session._session_id;
    await tied(session)!.release();
    const again = await MySQLSession.open<{ user: { name: string } }>(id, args);
    expect(again.user).toEqual({ name: 'Ann' });
    await tied(again)!.release();

    const flavor = await MySQLSession.flavor(args);
    expect(await MySQLSession.flavor({ pool, table: TABLE })).toBe(flavor);
    expect(flavor.parts.store.fuse!(flavor.parts.locker)).toBeDefined();
    expect([flavor.parts.store.name, flavor.parts.locker.name, flavor.parts.generator.name, flavor.parts.serializer.name]).toEqual(['mysql', 'mysql', 'nanoid', 'superjson']);
  });

  it("Flex names MySQL for store and lock, with Perl's Handle and TableName, or DataSource, UserName and Password", async () => {
    const session = await openSession<{ n: number }>(undefined, { store: 'mysql', lock: 'MYSQL', Handle: pool, TableName: TABLE });
    session.n = 7;
    const id = session._session_id;
    await tied(session)!.release();
    const perlArgs = { DataSource: 'dbi:mysql:database=test;host=127.0.0.1;port=3306', UserName: 'root', Password: '', TableName: TABLE };
    const again = await openSession<{ n: number }>(id, { store: 'MySQL', lock: 'MySQL', ...perlArgs });
    expect(again.n).toBe(7);
    await tied(again)!.release();
    const flavor = await MySQLSession.flavor({ table: TABLE, DataSource: perlArgs.DataSource, UserName: 'root', Password: '' } as MySQLSessionArgs);
    expect(flavor.parts.store.fuse!(flavor.parts.locker)).toBeDefined();
    await flavor.close();
  });

  it('createTable: true creates the table when the parts are made', async () => {
    const session = await MySQLSession.open(undefined, { pool, table: CREATED, createTable: true });
    await tied(session)!.release();
    const [rows] = await admin.query<RowDataPacket[]>(`SELECT id FROM ${CREATED}`);
    expect(rows).toHaveLength(1);
  });

  it('4 processes × 250 increments of one session end at exactly 1000', async () => {
    const id = await counter();
    await incrementInChildren('mysql', TABLE, id, 4, 250);
    expect(await countOf(id)).toBe(1000);
  });

  it('its connection killed on the server mid-cycle: LockLostError at release, the lock freed, the stored version whole, the dead connection not reused', async () => {
    const id = await counter();
    const session = await MySQLSession.open<{ count: number }>(id, args);
    const [[lock]] = await admin.query<RowDataPacket[]>('SELECT IS_USED_LOCK(?) AS holder', [lockName(id)]);
    const killed = lock!.holder as number;
    await admin.query(`KILL ${killed}`);
    session.count = 99;
    const error = await rejectionOf(tied(session)!.release());
    expect(error).toBeInstanceOf(LockLostError);
    expect(error).toMatchObject({ code: 'ERR_LOCK_LOST', sessionId: id });
    // KILL returns before the killed thread has ended; the server frees its locks as it ends.
    expect(await lockFreed(id)).toBe(true);
    expect(await countOf(id)).toBe(0);
    // Every connection the pool hands out now is a live one, and none is the killed one.
    const connections = await Promise.all(Array.from({ length: 4 }, () => pool.promise().getConnection()));
    const ids = await Promise.all(connections.map(async (connection) => (await connection.query<RowDataPacket[]>('SELECT CONNECTION_ID() AS id'))[0][0]!.id as number));
    for (const connection of connections) connection.release();
    expect(ids).not.toContain(killed);
  });

  it('a lock holder SIGKILLed: the server frees its lock with its connection', async () => {
    const id = await counter();
    const holder = await holdInChild('mysql', TABLE, id);
    expect(await rejectionOf(MySQLSession.open(id, { ...args, lockTimeout: 200 }))).toBeInstanceOf(LockTimeoutError);
    await killHard(holder);
    const started = Date.now();
    const session = await MySQLSession.open<{ count: number }>(id, { ...args, lockTimeout: 10_000 });
    expect(Date.now() - started).toBeLessThan(5000);
    expect(session.count).toBe(0);
    await tied(session)!.release();
  });
});
