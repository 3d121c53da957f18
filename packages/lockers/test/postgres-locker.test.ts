import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect } from '@jest/globals';
import pg from 'pg';
import { freshId, lockerSuite, serviceUnavailable, testOrSkip } from '@tied/conformance/jest';
import { LockTimeoutError, PoolTimeoutError } from '@tied/core';
import { lockKeySql, postgresLocker } from '@tied/lockers/postgres';
import { postgresStore } from '@tied/stores/postgres';

const POSTGRES = { host: '127.0.0.1', port: 5432, user: 'postgres', database: 'test' };
const pool = new pg.Pool({ ...POSTGRES, max: 8 });
const skip = await serviceUnavailable('PostgreSQL at 127.0.0.1:5432', () => pool.query('SELECT 1'));
const it = testOrSkip(skip);

const TABLE = 'tied_conf_postgres_lock';

const rejectionOf = (promise: Promise<unknown>): Promise<unknown> =>
  promise.then(() => { throw new Error('expected a rejection'); }, (error: unknown) => error);

/** Backends holding (granted) or waiting for the advisory lock of `id`. */
async function advisory(id: string, granted: boolean): Promise<number[]> {
  const { rows } = await pool.query<{ pid: number }>(
    `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 1 AND granted = $1
       AND ((classid::bigint << 32) | objid::bigint) = ${lockKeySql(id)}`,
    [granted],
  );
  return rows.map((row) => row.pid);
}

if (skip === undefined) {
  beforeAll(async () => {
    await pool.query(`DROP TABLE IF EXISTS ${TABLE}`);
    await postgresStore({ pool, table: TABLE }).createTable();
  });
}
afterAll(async () => {
  if (skip === undefined) await pool.query(`DROP TABLE IF EXISTS ${TABLE}`);
  await pool.end();
});

lockerSuite({ name: 'postgresLocker', skip, factory: () => postgresLocker({ pool }), store: () => postgresStore({ pool, table: TABLE }) });

describe('postgresLocker', () => {
  const locker = postgresLocker({ pool });

  it('holds a transaction-level advisory lock on the 64-bit key of the id, shared for read, in a transaction its release commits', async () => {
    const id = freshId();
    const reader = await locker.acquire(id, 'read');
    const { rows: [lock] } = await pool.query(
      `SELECT l.mode, a.state FROM pg_locks l JOIN pg_stat_activity a USING (pid)
       WHERE l.locktype = 'advisory' AND l.objsubid = 1 AND ((l.classid::bigint << 32) | l.objid::bigint) = ${lockKeySql(id)}`,
    );
    expect(lock).toEqual({ mode: 'ShareLock', state: 'idle in transaction' });
    await reader.release();
    expect(await advisory(id, true)).toEqual([]);
  });

  it('a wait that times out leaves no lock and gives its client back clean; an aborted one is cancelled on the server and its client closed', async () => {
    const id = freshId();
    const holder = await locker.acquire(id, 'write');
    // One client: what the waiter gives back is the client checked afterwards.
    const single = new pg.Pool({ ...POSTGRES, max: 1 });
    try {
      const waiter = postgresLocker({ pool: single });
      expect(await rejectionOf(waiter.acquire(id, 'write', { timeout: 100 }))).toBeInstanceOf(LockTimeoutError);
      const { rows: [state] } = await single.query('SELECT pg_backend_pid() AS pid, now() = statement_timestamp() AS fresh_transaction');
      expect(state.fresh_transaction).toBe(true);
      expect(await advisory(id, true)).not.toContain(state.pid);

      const controller = new AbortController();
      const waiting = waiter.acquire(id, 'write', { signal: controller.signal });
      while ((await advisory(id, false)).length === 0) await sleep(10);
      controller.abort(new Error('caller gave up'));
      expect(await rejectionOf(waiting)).toMatchObject({ message: 'caller gave up' });
      expect(await advisory(id, false)).toEqual([]);
      await holder.release();
      const { rows: [after] } = await single.query('SELECT pg_backend_pid() AS pid');
      expect(after.pid).not.toBe(state.pid);
      const next = await waiter.acquire(id, 'write', { timeout: 1000 });
      await next.release();
    } finally {
      await single.end();
    }
  });

  it('waiting for a pool client counts toward lockTimeout, and ends with PoolTimeoutError naming the pool, its size and the clients sessions hold', async () => {
    const single = new pg.Pool({ ...POSTGRES, max: 1 });
    try {
      const small = postgresLocker({ pool: single });
      const first = await small.acquire(freshId(), 'write');
      const started = Date.now();
      const error = await rejectionOf(small.acquire(freshId(), 'write', { timeout: 150 }));
      expect(error).toBeInstanceOf(PoolTimeoutError);
      expect(error).toMatchObject({ code: 'ERR_POOL_TIMEOUT', size: 1, heldBySessions: 1 });
      expect((error as Error).message).toMatch(/pool postgres:\/\/postgres@127\.0\.0\.1:5432\/test \(your pool\) \(1 connections, 1 held/);
      expect(Date.now() - started).toBeGreaterThanOrEqual(140);
      await first.release();
      const second = await small.acquire(freshId(), 'write', { timeout: 1000 });
      await second.release();
    } finally {
      await single.end();
    }
  });
});
