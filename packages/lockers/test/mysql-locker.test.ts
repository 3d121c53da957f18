import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect } from '@jest/globals';
import mysql, { type RowDataPacket } from 'mysql2';
import { freshId, lockerSuite, serviceUnavailable, testOrSkip } from '@tied/conformance/jest';
import { LockTimeoutError, PoolTimeoutError } from '@tied/core';
import { lockName, mysqlLocker } from '@tied/lockers/mysql';
import { mysqlStore } from '@tied/stores/mysql';

const MYSQL = { host: '127.0.0.1', port: 3306, user: 'root', database: 'test' };
const pool = mysql.createPool({ ...MYSQL, multipleStatements: true, connectionLimit: 8 });
// The same statements one by one: the fused path without multi-statements.
const plainPool = mysql.createPool({ ...MYSQL, connectionLimit: 8 });
const admin = pool.promise();
const skip = await serviceUnavailable('MariaDB at 127.0.0.1:3306', () => admin.query('SELECT 1'));
const it = testOrSkip(skip);

const TABLE = 'tied_conf_mysql_lock';

const rejectionOf = (promise: Promise<unknown>): Promise<unknown> =>
  promise.then(() => { throw new Error('expected a rejection'); }, (error: unknown) => error);

/** The connection id holding GET_LOCK's lock of `id`, or null. */
async function holderOf(id: string): Promise<number | null> {
  const [[row]] = await admin.query<RowDataPacket[]>('SELECT IS_USED_LOCK(?) AS holder', [lockName(id)]);
  return row!.holder as number | null;
}

/** Server threads waiting in GET_LOCK for the lock of `id`. */
async function waitersFor(id: string): Promise<number[]> {
  const [rows] = await admin.query<RowDataPacket[]>(
    "SELECT ID AS id FROM information_schema.PROCESSLIST WHERE STATE = 'User lock' AND INFO LIKE ?",
    [`%${lockName(id)}%`],
  );
  return rows.map((row) => row.id as number);
}

if (skip === undefined) {
  beforeAll(async () => {
    await admin.query(`DROP TABLE IF EXISTS ${TABLE}`);
    await mysqlStore({ pool, table: TABLE }).createTable();
  });
}
afterAll(async () => {
  if (skip === undefined) await admin.query(`DROP TABLE IF EXISTS ${TABLE}`);
  await Promise.all([admin.end(), plainPool.promise().end()]);
});

lockerSuite({ name: 'mysqlLocker', skip, factory: () => mysqlLocker({ pool }), store: () => mysqlStore({ pool, table: TABLE }) });
lockerSuite({
  name: 'mysqlLocker on a pool without multipleStatements',
  skip,
  factory: () => mysqlLocker({ pool: plainPool }),
  store: () => mysqlStore({ pool: plainPool, table: TABLE }),
});

describe('mysqlLocker', () => {
  const locker = mysqlLocker({ pool });

  it("takes Perl's Lock::MySQL lock, GET_LOCK('Apache-Session-<id>'), which Perl's GET_LOCK then waits for; long ids are hashed to MySQL's 64 characters", async () => {
    const id = freshId();
    const lock = await locker.acquire(id, 'read');
    expect(lockName(id)).toBe(`Apache-Session-${id}`);
    expect(await holderOf(id)).not.toBeNull();
    const [[perl]] = await admin.query<RowDataPacket[]>('SELECT GET_LOCK(?, 0) AS locked', [`Apache-Session-${id}`]);
    expect(perl!.locked).toBe(0);
    await lock.release();
    expect(await holderOf(id)).toBeNull();
    expect(lockName('x'.repeat(256))).toHaveLength(55);
  });

  it('a wait that times out leaves no lock and gives its connection back clean; an aborted one is killed on the server and its connection closed', async () => {
    const id = freshId();
    const holder = await locker.acquire(id, 'write');
    // One connection: what the waiter gives back is the connection checked afterwards.
    const single = mysql.createPool({ ...MYSQL, multipleStatements: true, connectionLimit: 1 });
    try {
      const waiter = mysqlLocker({ pool: single });
      expect(await rejectionOf(waiter.acquire(id, 'write', { timeout: 100 }))).toBeInstanceOf(LockTimeoutError);
      const [[state]] = await single.promise().query<RowDataPacket[]>('SELECT CONNECTION_ID() AS me, @@in_transaction AS tx, IS_USED_LOCK(?) AS holder', [lockName(id)]);
      expect(state!.tx).toBe(0);
      expect(state!.holder).not.toBe(state!.me);

      const controller = new AbortController();
      const waiting = waiter.acquire(id, 'write', { signal: controller.signal });
      while ((await waitersFor(id)).length === 0) await sleep(10);
      controller.abort(new Error('caller gave up'));
      expect(await rejectionOf(waiting)).toMatchObject({ message: 'caller gave up' });
      expect(await waitersFor(id)).toEqual([]);
      await holder.release();
      const [[after]] = await single.promise().query<RowDataPacket[]>('SELECT CONNECTION_ID() AS me');
      expect(after!.me).not.toBe(state!.me);
      const next = await waiter.acquire(id, 'write', { timeout: 1000 });
      await next.release();
    } finally {
      await single.promise().end();
    }
  });

  it('waiting for a pool connection counts toward lockTimeout, and ends with PoolTimeoutError naming the pool, its size and the connections sessions hold', async () => {
    const single = mysql.createPool({ ...MYSQL, multipleStatements: true, connectionLimit: 1 });
    try {
      const small = mysqlLocker({ pool: single });
      const first = await small.acquire(freshId(), 'write');
      const started = Date.now();
      const error = await rejectionOf(small.acquire(freshId(), 'write', { timeout: 150 }));
      expect(error).toBeInstanceOf(PoolTimeoutError);
      expect(error).toMatchObject({ code: 'ERR_POOL_TIMEOUT', timeout: 150, size: 1, heldBySessions: 1 });
      expect((error as Error).message).toMatch(/connection of the pool mysql:\/\/root@127\.0\.0\.1:3306\/test \(your pool\) \(1 connections, 1 held by locked sessions\)/);
      expect(Date.now() - started).toBeGreaterThanOrEqual(140);
      await first.release();
      const second = await small.acquire(freshId(), 'write', { timeout: 1000 });
      await second.release();
    } finally {
      await single.promise().end();
    }
  });
});
