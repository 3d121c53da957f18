import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect } from '@jest/globals';
import pg from 'pg';
import { serviceUnavailable, testOrSkip } from '@tied/conformance/jest';
import {
  LockTimeoutError, SerializationError, SessionNotFoundError, defineSession, tied, type Flavor, type Serializer,
} from '@tied/core';
import { hex } from '@tied/generators';
import { base64, storable } from '@tied/serializers';
import { postgresRowParts } from '@tied/stores/postgres';
import { roundTripProxy } from './helpers/round-trip-proxy.js';

const POSTGRES = { host: '127.0.0.1', port: 5432, user: 'postgres', database: 'test' };
const pool = new pg.Pool({ ...POSTGRES, max: 6 });
const skip = await serviceUnavailable('PostgreSQL at 127.0.0.1:5432', () => pool.query('SELECT 1'));
const it = testOrSkip(skip);

// Perl's schema; the second table also refuses sessions of 2,000 characters or more, so a save can fail on the server.
const TABLE = 'tied_test_postgres_row';
const LIMITED = 'tied_test_postgres_row_limited';

/** Apache::Session::Postgres's parts on `table`: Perl's store and its row locker, made together. */
function perlFlavor(table: string, on: pg.Pool = pool, serializer: Serializer = base64(storable())): Flavor {
  const { store, locker } = postgresRowParts({ pool: on, table });
  return defineSession({ store, locker, generator: hex(), serializer });
}

/** Clients of the pool that are checked out: a lock holds one, and nothing else may keep one. */
const checkedOut = (on: pg.Pool = pool) => on.totalCount - on.idleCount;

/** A session id whose stored `n` is `n`. */
async function seed(flavor: Flavor, n: number): Promise<string> {
  const session = await flavor.open();
  session.n = n;
  const id = session._session_id;
  await tied(session)!.release();
  return id;
}

/** What is committed for `id`, read without any lock: what every other transaction sees. */
async function committed(flavor: Flavor, id: string): Promise<unknown> {
  const { data } = await flavor.parts.store.materialize(id);
  return flavor.parts.serializer.unserialize(data).n;
}

if (skip === undefined) {
  beforeAll(async () => {
    await pool.query(`DROP TABLE IF EXISTS ${TABLE}; DROP TABLE IF EXISTS ${LIMITED}`);
    await pool.query(`CREATE TABLE ${TABLE} (id char(32) not null primary key, a_session text)`);
    await pool.query(`CREATE TABLE ${LIMITED} (id char(32) not null primary key, a_session text CHECK (length(a_session) < 2000))`);
  });
}
afterAll(async () => {
  if (skip === undefined) await pool.query(`DROP TABLE IF EXISTS ${TABLE}; DROP TABLE IF EXISTS ${LIMITED}`);
  await pool.end();
});

describe('postgresRowParts: the row lock of Apache::Session::Postgres', () => {
  it('a locked cycle costs 2 round trips, a new session 2, a read-only open 2', async () => {
    const proxy = await roundTripProxy(POSTGRES.port);
    const counted = new pg.Pool({ ...POSTGRES, port: proxy.port, max: 1 });
    try {
      const flavor = perlFlavor(TABLE, counted);
      // Warm up: the pool connects.
      const id = await seed(flavor, 0);

      proxy.reset();
      await seed(flavor, 1);
      expect(proxy.roundTrips).toBe(2);

      proxy.reset();
      const session = await flavor.open(id);
      session.n += 1;
      await tied(session)!.release();
      expect(proxy.roundTrips).toBe(2);

      proxy.reset();
      const reader = await flavor.open(id, { readonly: true });
      expect(reader.n).toBe(1);
      await tied(reader)!.release();
      expect(proxy.roundTrips).toBe(2);
    } finally {
      await counted.end();
      await proxy.close();
    }
  });

  it('save() and delete() of a held session run in its transaction: others see them at release, and wait until then', async () => {
    const flavor = perlFlavor(TABLE);
    const id = await seed(flavor, 1);
    const session = await flavor.open(id);
    session.n = 2;
    await tied(session)!.save();
    expect(await committed(flavor, id)).toBe(1);
    await expect(flavor.open(id, { lockTimeout: 100 })).rejects.toBeInstanceOf(LockTimeoutError);
    session.n = 3;
    await tied(session)!.release();
    expect(await committed(flavor, id)).toBe(3);

    const doomed = await flavor.open(id);
    await tied(doomed)!.delete();
    await expect(flavor.open(id)).rejects.toBeInstanceOf(SessionNotFoundError);
    expect(checkedOut()).toBe(0);
  });

  it('read-only opens share the row (FOR SHARE) and a writer waits for them', async () => {
    const flavor = perlFlavor(TABLE);
    const id = await seed(flavor, 1);
    const first = await flavor.open(id, { readonly: true });
    const second = await flavor.open(id, { readonly: true, lockTimeout: 1000 });
    expect([first.n, second.n]).toEqual([1, 1]);
    await expect(flavor.open(id, { lockTimeout: 100 })).rejects.toBeInstanceOf(LockTimeoutError);
    await tied(first)!.release();
    await tied(second)!.release();
    await using writer = await flavor.open(id, { lockTimeout: 1000 });
    expect(writer.n).toBe(1);
  });

  it('transaction: false locks the row only while loading and while saving', async () => {
    const flavor = perlFlavor(TABLE);
    const id = await seed(flavor, 1);
    const classic = await flavor.open(id, { transaction: false });
    expect(checkedOut()).toBe(0);
    {
      await using other = await flavor.open(id, { lockTimeout: 1000 });
      other.n = 10;
    }
    classic.n = 2;
    await tied(classic)!.release();
    // Perl's classic mode: the last writer wins.
    expect(await committed(flavor, id)).toBe(2);
  });

  it('a new session stays uncommitted, and so invisible and locked, until it is released (as in Perl)', async () => {
    const flavor = perlFlavor(TABLE);
    const created = await flavor.open();
    created.n = 1;
    const id = created._session_id;
    await expect(flavor.open(id, { lockTimeout: 1000 })).rejects.toBeInstanceOf(SessionNotFoundError);
    await tied(created)!.release();
    expect(await committed(flavor, id)).toBe(1);
  });

  it('a save the server refuses is rolled back: the previous version stays whole and the lock is released', async () => {
    const flavor = perlFlavor(LIMITED);
    const id = await seed(flavor, 1);
    const session = await flavor.open(id);
    session.n = 2;
    session.padding = 'x'.repeat(5000);
    await expect(tied(session)!.release()).rejects.toMatchObject({ code: '23514' });
    expect(checkedOut()).toBe(0);
    await using again = await flavor.open(id, { lockTimeout: 1000 });
    expect(again.n).toBe(1);
    expect(again.padding).toBeUndefined();
  });

  it("Perl's text column refuses a binary serializer's bytes before anything is sent", async () => {
    const flavor = perlFlavor(TABLE, pool, storable());
    await expect(flavor.open()).rejects.toBeInstanceOf(SerializationError);
    expect(checkedOut()).toBe(0);
  });

  it('a wait for the row ends with LockTimeoutError, or with the reason of an abort; no client is kept', async () => {
    const flavor = perlFlavor(TABLE);
    const id = await seed(flavor, 1);
    const holder = await flavor.open(id);
    const started = Date.now();
    await expect(flavor.open(id, { lockTimeout: 200 })).rejects.toBeInstanceOf(LockTimeoutError);
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);

    const controller = new AbortController();
    const waiting = flavor.open(id, { signal: controller.signal });
    await sleep(100);
    controller.abort(new Error('caller gave up'));
    await expect(waiting).rejects.toThrow('caller gave up');
    await tied(holder)!.release();
    expect(checkedOut()).toBe(0);
  });
});
