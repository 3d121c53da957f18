// Lease locks on MySQL and PostgreSQL (issue 13): a held session holds no connection. The conformance
// suites, round trips, expiry and fencing, killed connections and holders, 128 holders on a pool of 10,
// hostile ids — the same tests on both servers.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect } from '@jest/globals';
import mysql from 'mysql2';
import pg from 'pg';
import { accessSuite, lockerSuite, testOrSkip } from '@tied/conformance/jest';
import { InvalidSessionIdError, LockLostError, LockTimeoutError, defineSession, type Flavor } from '@tied/core';
import { nanoid } from '@tied/generators';
import { mysqlLeaseLocker } from '@tied/lockers/mysql';
import { postgresLeaseLocker } from '@tied/lockers/postgres';
import { superjson } from '@tied/serializers';
import { mysqlStore } from '@tied/stores/mysql';
import { postgresStore } from '@tied/stores/postgres';
import { MySQLSession, PostgresSession, tied, type Session } from 'tied';
import { roundTripProxy } from '../../stores/test/helpers/round-trip-proxy.js';
import { holdInChild, incrementInChildren, killHard } from './helpers/sql-children.js';
import { counters, mysqlKit, postgresKit, type SqlKit, type TestPool } from './helpers/sql-kits.js';

const kits = [await mysqlKit(), await postgresKit()];

const rejectionOf = (promise: Promise<unknown>): Promise<unknown> =>
  promise.then(() => { throw new Error('expected a rejection'); }, (error: unknown) => error);

/** The parts of one backend, on a pool of the test's. */
function partsOf(kit: SqlKit) {
  const mysqlSide = kit.backend === 'mysql';
  return {
    store: (on: TestPool, table: string) => (mysqlSide ? mysqlStore({ pool: on.pool as never, table }) : postgresStore({ pool: on.pool as never, table })),
    locker: (on: TestPool, table: string, lease?: number) => (mysqlSide
      ? mysqlLeaseLocker({ pool: on.pool as never, table, lease })
      : postgresLeaseLocker({ pool: on.pool as never, table, lease })),
    /** A pool of one connection to `port` (a round-trip proxy). */
    poolAt(port: number): TestPool {
      if (mysqlSide) {
        const pool = mysql.createPool({ host: '127.0.0.1', port, user: 'root', database: 'test', multipleStatements: true, connectionLimit: 1 });
        return { pool, end: () => pool.promise().end() };
      }
      const pool = new pg.Pool({ host: '127.0.0.1', port, user: 'postgres', database: 'test', max: 1 });
      pool.on('error', () => {});
      return { pool, end: () => pool.end() };
    },
    /** The server's id of the one connection of `on`. */
    async connectionOf(on: TestPool): Promise<number> {
      if (mysqlSide) return ((await (on.pool as mysql.Pool).promise().query('SELECT CONNECTION_ID() AS id'))[0] as { id: number }[])[0]!.id;
      return (await (on.pool as pg.Pool).query('SELECT pg_backend_pid() AS id')).rows[0].id as number;
    },
    kill: (connection: number) => kit.admin(mysqlSide ? `KILL ${connection}` : `SELECT pg_terminate_backend(${connection})`),
    /** Ends every lease of `id` on the server's clock, as if its holder had stopped renewing for a whole lease. */
    expire: (leases: string, id: string) => kit.admin(mysqlSide
      ? `UPDATE ${leases} SET expires_at = UTC_TIMESTAMP(6) - INTERVAL 1 SECOND WHERE id = '${id}'`
      : `UPDATE ${leases} SET expires_at = clock_timestamp() - interval '1 second' WHERE id = '${id}'`),
    open: <T extends object>(on: TestPool, table: string, id: string | undefined, options = {}) => (mysqlSide
      ? MySQLSession.open<T>(id as string, { pool: on.pool as never, table, lock: 'MySQLLease', ...options })
      : PostgresSession.open<T>(id as string, { pool: on.pool as never, table, lock: 'PostgresLease', ...options })) as Promise<Session<T>>,
  };
}

for (const kit of kits) {
  const parts = partsOf(kit);
  const CONFORMANCE = `lease_conf_${kit.backend}`;
  // A pool the conformance suites share; it connects at first use.
  const suitePool = kit.pool(6);
  if (kit.skip === undefined) {
    beforeAll(async () => {
      await kit.admin(`DROP TABLE IF EXISTS ${CONFORMANCE}`);
      await kit.admin(`DROP TABLE IF EXISTS ${CONFORMANCE}_leases`);
      await parts.store(suitePool, CONFORMANCE).createTable();
      await parts.locker(suitePool, `${CONFORMANCE}_leases`).createTable();
    });
  }
  afterAll(async () => {
    if (kit.skip === undefined) {
      await kit.admin(`DROP TABLE IF EXISTS ${CONFORMANCE}`);
      await kit.admin(`DROP TABLE IF EXISTS ${CONFORMANCE}_leases`);
    }
    await suitePool.end();
  });
  lockerSuite({
    name: `${kit.backend} lease locker, fused with its store`,
    skip: kit.skip,
    factory: () => parts.locker(suitePool, `${CONFORMANCE}_leases`),
    store: () => parts.store(suitePool, CONFORMANCE),
  });
  accessSuite({
    name: `${kit.backend} store + lease locker`,
    skip: kit.skip,
    factory: () => ({ store: parts.store(suitePool, CONFORMANCE), locker: parts.locker(suitePool, `${CONFORMANCE}_leases`) }),
  });
}

afterAll(() => Promise.all(kits.map((kit) => kit.end())));

describe.each(kits)('$backend lease locks', (kit: SqlKit) => {
  const it = testOrSkip(kit.skip);
  const parts = partsOf(kit);
  const TABLE = `lease_test_${kit.backend}`;
  const LEASES = `${TABLE}_leases`;
  const VICTIM = `lease_victim_${kit.backend}`;
  let shared: TestPool;

  const open = <T extends object>(id: string | undefined, options = {}) => parts.open<T>(shared, TABLE, id, options);
  const { create: counter, read: countOf } = counters(open);
  const flavorOn = (on: TestPool, lease?: number): Flavor =>
    defineSession({ store: parts.store(on, TABLE), locker: parts.locker(on, LEASES, lease), generator: nanoid(), serializer: superjson() });

  if (kit.skip === undefined) {
    beforeAll(async () => {
      shared = kit.pool(10);
      for (const table of [TABLE, LEASES, VICTIM]) await kit.admin(`DROP TABLE IF EXISTS ${table}`);
      await open(undefined, { createTable: true }).then((session) => tied(session).release());
      await kit.admin(`CREATE TABLE ${VICTIM} (n int)`);
      await kit.admin(`INSERT INTO ${VICTIM} VALUES (1)`);
    });
    afterAll(async () => {
      await (kit.backend === 'mysql' ? MySQLSession : PostgresSession).close({ pool: shared.pool as never });
      for (const table of [TABLE, LEASES, VICTIM]) await kit.admin(`DROP TABLE IF EXISTS ${table}`);
      await shared.end();
    });
  }

  it('a locked cycle costs 2 round trips, a new session 2, a read-only open 2, and none holds a connection between them', async () => {
    const proxy = await roundTripProxy(kit.backend === 'mysql' ? 3306 : 5432);
    const counted = parts.poolAt(proxy.port);
    try {
      const flavor = flavorOn(counted);
      // Warm up: the pool connects, the store reads the table's columns once.
      const warm = await flavor.open<{ n: number }>();
      warm.n = 0;
      const id = warm._session_id;
      await tied(warm).release();

      proxy.reset();
      const fresh = await flavor.open<{ n: number }>();
      fresh.n = 1;
      await tied(fresh).release();
      expect(proxy.roundTrips).toBe(2);

      proxy.reset();
      const session = await flavor.open<{ n: number }>(id);
      // Held, yet the pool's only connection is free: another session opens and releases meanwhile.
      const other = await flavor.open<{ n: number }>(tied(fresh).id, { lockTimeout: 1000 });
      await tied(other).release();
      expect(proxy.roundTrips).toBe(3);
      session.n += 1;
      await tied(session).release();
      expect(proxy.roundTrips).toBe(4);

      proxy.reset();
      const reader = await flavor.open<{ n: number }>(id, { readonly: true });
      expect(reader.n).toBe(1);
      await tied(reader).release();
      expect(proxy.roundTrips).toBe(2);
      await flavor.close();
    } finally {
      await counted.end();
      await proxy.close();
    }
  });

  it("a holder whose lease ran out loses the lock: another takes it, and the stale holder's save, release and delete are refused with LockLostError, nothing written", async () => {
    const id = await counter();
    const other = flavorOn(shared);
    /** Opens the session, lets its lease run out and another process take the lock and increment. */
    const staleSession = async () => {
      const stale = await open<{ count: number }>(id);
      await parts.expire(LEASES, id);
      const next = await other.open<{ count: number }>(id, { lockTimeout: 2000 });
      next.count += 1;
      await tied(next).release();
      return stale;
    };

    const stale = await staleSession();
    stale.count = 100;
    const error = await rejectionOf(tied(stale).save());
    expect(error).toBeInstanceOf(LockLostError);
    expect((error as Error).message).toMatch(/ran out.*nothing was written/);
    expect(await rejectionOf(tied(stale).release())).toBeInstanceOf(LockLostError);
    expect(await countOf(id)).toBe(1);

    const removing = await staleSession();
    expect(await rejectionOf(tied(removing).delete())).toBeInstanceOf(LockLostError);
    expect(await countOf(id)).toBe(2);
    await other.close();
  });

  it('the renewal finds a lease gone and marks its lock lost: held is false, and its release writes nothing', async () => {
    const locker = parts.locker(shared, LEASES, 300);
    const id = `renewal-${Date.now()}`;
    const lock = await locker.acquire(id, 'write');
    await sleep(400);
    expect(lock.held).toBe(true);
    await kit.admin(`DELETE FROM ${LEASES} WHERE id = '${id}'`);
    await sleep(250);
    expect(lock.held).toBe(false);
    await lock.release();
    await (await parts.locker(shared, LEASES).acquire(id, 'write', { timeout: 1000 })).release();
    await locker.close!();
  });

  it('a live holder renews its lease (300 ms) and keeps the lock; SIGKILLed, the next waiter takes it once the lease ends', async () => {
    const id = await counter();
    const holder = await holdInChild(kit.backend, TABLE, id, 300);
    // Over three leases: only renewal keeps it.
    expect(await rejectionOf(open(id, { lockTimeout: 1000 }))).toBeInstanceOf(LockTimeoutError);
    await killHard(holder);
    const started = Date.now();
    const session = await open<{ count: number }>(id, { lockTimeout: 10_000 });
    expect(Date.now() - started).toBeLessThan(3000);
    session.count += 1;
    await tied(session).release();
    expect(await countOf(id)).toBe(1);
  });

  it('a connection killed while a session is held loses neither the lock nor the update', async () => {
    const single = kit.pool(1);
    try {
      const flavor = flavorOn(single);
      const created = await flavor.open<{ count: number }>();
      created.count = 0;
      const id = created._session_id;
      await tied(created).release();

      const session = await flavor.open<{ count: number }>(id);
      await parts.kill(await parts.connectionOf(single));
      await sleep(100);
      expect(await rejectionOf(open(id, { lockTimeout: 200 }))).toBeInstanceOf(LockTimeoutError);
      session.count += 1;
      await tied(session).save();
      session.count += 1;
      await tied(session).release();
      expect(await countOf(id)).toBe(2);
      await flavor.close();
    } finally {
      await single.end();
    }
  });

  it('4 processes × 250 increments of one session end at exactly 1000', async () => {
    const id = await counter();
    await incrementInChildren(kit.backend, TABLE, id, 4, 250, undefined, 10_000);
    expect(await countOf(id)).toBe(1000);
  });

  it('128 sessions held at once on a pool of 10 connections do not wait for the pool; 128 holders of one session take turns and lose no update', async () => {
    const ids = await Promise.all(Array.from({ length: 128 }, () => counter()));
    await Promise.all(ids.map(async (id) => {
      const session = await open<{ count: number }>(id, { lockTimeout: 2000 });
      await sleep(20);
      session.count += 1;
      await tied(session).release();
    }));
    expect(await Promise.all(ids.map(countOf))).toEqual(ids.map(() => 1));

    const one = ids[0]!;
    await Promise.all(ids.map(async () => {
      const session = await open<{ count: number }>(one, { lockTimeout: 30_000 });
      await sleep(2);
      session.count += 1;
      await tied(session).release();
    }));
    expect(await countOf(one)).toBe(129);
  });

  it('hostile ids are refused before any SQL; the locker alone keeps any id as data, hashing long ones', async () => {
    const proxy = await roundTripProxy(kit.backend === 'mysql' ? 3306 : 5432);
    const counted = parts.poolAt(proxy.port);
    try {
      const flavor = flavorOn(counted);
      proxy.reset();
      for (const id of [`'); DROP TABLE ${VICTIM}; -- `, '../../etc/passwd', 'x'.repeat(10_000)]) {
        expect(await rejectionOf(flavor.open(id))).toBeInstanceOf(InvalidSessionIdError);
      }
      expect(proxy.roundTrips).toBe(0);

      const locker = parts.locker(shared, LEASES);
      for (const id of [`'); DROP TABLE ${VICTIM}; -- `, `\\'; DELETE FROM ${LEASES}; -- é 🚀`, 'x'.repeat(10_000)]) {
        const lock = await locker.acquire(id, 'write');
        expect(await rejectionOf(parts.locker(shared, LEASES).acquire(id, 'write', { timeout: 100 }))).toBeInstanceOf(LockTimeoutError);
        await lock.release();
        await (await locker.acquire(id, 'write', { timeout: 1000 })).release();
      }
      expect(await kit.admin(`SELECT n FROM ${VICTIM}`)).toEqual([{ n: 1 }]);
      await flavor.close();
    } finally {
      await counted.end();
      await proxy.close();
    }
  });

  it('clean() deletes expired leases only; a missing lease table is an error that says how to create it', async () => {
    const locker = parts.locker(shared, LEASES);
    const [gone, kept] = [`gone-${Date.now()}`, `kept-${Date.now()}`];
    const held = await locker.acquire(kept, 'write');
    await (await locker.acquire(gone, 'write')).release();
    await kit.admin(`INSERT INTO ${LEASES} (id, token, expires_at) VALUES ('${gone}', 'tttttttttttttttttttttt', ${kit.backend === 'mysql' ? 'UTC_TIMESTAMP(6)' : 'clock_timestamp()'} - INTERVAL '1' SECOND)`);
    expect(await locker.clean()).toBeGreaterThanOrEqual(1);
    expect((await kit.admin(`SELECT id FROM ${LEASES} WHERE id IN ('${gone}', '${kept}')`)).map((row) => String(row.id))).toEqual([kept]);
    await held.release();

    const missing = parts.locker(shared, `${TABLE}_missing`);
    expect(((await rejectionOf(missing.acquire('x', 'write'))) as Error).message).toMatch(/lease table lease_test_\w+_missing does not exist; create it with locker.createTable\(\)/);
  });
});
