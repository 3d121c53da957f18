import { afterAll, beforeAll, describe, expect } from '@jest/globals';
import pg from 'pg';
import { accessSuite, freshId, serviceUnavailable, storeSuite, testOrSkip } from '@tied/conformance/jest';
import { InvalidSessionIdError, SerializationError, SessionNotFoundError, defineSession, memoryLocker, tied, type Flavor } from '@tied/core';
import { nanoid } from '@tied/generators';
import { lockKeySql, postgresLocker } from '@tied/lockers/postgres';
import { json, superjson } from '@tied/serializers';
import { postgresStore } from '@tied/stores/postgres';
import { roundTripProxy } from './helpers/round-trip-proxy.js';

const POSTGRES = { host: '127.0.0.1', port: 5432, user: 'postgres', database: 'test' };
const CONNECTION_STRING = 'postgres://postgres@127.0.0.1:5432/test';
const pool = new pg.Pool({ ...POSTGRES, max: 6 });
const skip = await serviceUnavailable('PostgreSQL at 127.0.0.1:5432', () => pool.query('SELECT 1'));
const it = testOrSkip(skip);

const CONFORMANCE = 'tied_conf_postgres';
const PERL = 'tied_test_postgres_perl';
const RECOMMENDED = 'tied_test_postgres_store';
const TABLES = [CONFORMANCE, PERL, RECOMMENDED];

const rejectionOf = (promise: Promise<unknown>): Promise<unknown> =>
  promise.then(() => { throw new Error('expected a rejection'); }, (error: unknown) => error);

const flavorOn = (store: ReturnType<typeof postgresStore>, lockPool: pg.Pool, serializer = superjson()): Flavor =>
  defineSession({ store, locker: postgresLocker({ pool: lockPool }), generator: nanoid(), serializer });

if (skip === undefined) {
  beforeAll(async () => {
    await pool.query(TABLES.map((table) => `DROP TABLE IF EXISTS ${table}`).join('; '));
    await postgresStore({ pool, table: CONFORMANCE }).createTable();
    await postgresStore({ pool, table: RECOMMENDED }).createTable();
    // Perl's schema, as Apache::Session::Store::Postgres documents it.
    await pool.query(`CREATE TABLE ${PERL} (id char(32) not null primary key, a_session text)`);
  });
}
afterAll(async () => {
  if (skip === undefined) await pool.query(TABLES.map((table) => `DROP TABLE IF EXISTS ${table}`).join('; '));
  await pool.end();
});

storeSuite({ name: 'postgresStore', skip, factory: () => postgresStore({ pool, table: CONFORMANCE }) });
accessSuite({ name: 'postgresStore + postgresLocker', skip, factory: () => ({ store: postgresStore({ pool, table: CONFORMANCE }), locker: postgresLocker({ pool }) }) });

describe('postgresStore', () => {
  it("Perl's text schema takes text sessions (quotes, backslashes, Unicode) and lists ids without char(32) padding", async () => {
    const store = postgresStore({ pool, table: PERL, schema: 'perl' });
    expect(store.capabilities).toMatchObject({ binary: false, text: true, updatedAt: false, purge: false });
    expect(store.purge).toBeUndefined();
    const flavor = flavorOn(store, pool, json());
    const created = await flavor.open();
    created.note = "it's a \\ back'slash — Grüße 🚀";
    const id = created._session_id;
    await tied(created)!.release();
    const again = await flavor.open(id);
    expect(again.note).toBe("it's a \\ back'slash — Grüße 🚀");
    await tied(again)!.release();
    const ids: string[] = [];
    for await (const info of store.list!()) ids.push(info.id);
    expect(ids).toContain(id);
  });

  it("a text column refuses a binary payload and NUL with SerializationError, nothing written", async () => {
    const store = postgresStore({ pool, table: PERL, schema: 'perl' });
    const id = freshId();
    expect(await rejectionOf(store.insert(id, Uint8Array.of(1, 2, 255)))).toBeInstanceOf(SerializationError);
    expect(await rejectionOf(store.insert(id, 'a\0b'))).toBeInstanceOf(SerializationError);
    const { rowCount } = await pool.query(`SELECT 1 FROM ${PERL} WHERE id = $1`, [id]);
    expect(rowCount).toBe(0);
  });

  it('an id longer than the id column is refused with InvalidSessionIdError before anything is sent', async () => {
    const store = postgresStore({ pool, table: PERL, schema: 'perl' });
    expect(await rejectionOf(store.insert(freshId() + 'abcd', 'x'))).toBeInstanceOf(InvalidSessionIdError);
  });

  it("Perl's table works unchanged without the schema option (detected), with purge and maxAge refused; schema: 'recommended' on it, or a missing table, is a clear error", async () => {
    const store = postgresStore({ pool, table: PERL });
    expect(await store.detectSchema()).toBe('perl');
    expect(store.capabilities).toMatchObject({ binary: false, updatedAt: false, purge: false });
    expect(store.purge).toBeUndefined();
    const flavor = flavorOn(store, pool, json());
    const created = await flavor.open<{ n: number }>();
    created.n = 1;
    const id = created._session_id;
    await tied(created).release();
    const again = await flavor.open<{ n: number }>(id);
    expect(again.n).toBe(1);
    await tied(again).release();
    expect(await rejectionOf(flavor.purge({ olderThan: 0 }))).toBeInstanceOf(TypeError);
    expect(((await rejectionOf(flavor.open(id, { maxAge: 1000 }))) as Error).message).toMatch(/maxAge needs a store that keeps updatedAt/);

    const onPerl = await rejectionOf(postgresStore({ pool, table: PERL, schema: 'recommended' }).insert(freshId(), 'x'));
    expect((onPerl as Error).message).toMatch(/no updated_at column.*leave schema out.*ALTER TABLE/);
    const missing = await rejectionOf(postgresStore({ pool, table: 'tied_test_postgres_missing' }).insert(freshId(), 'x'));
    expect((missing as Error).message).toMatch(/does not exist; create it with store.createTable\(\)/);
  });

  it('createTable makes the recommended schema: bytea, ids up to 256 characters, updated_at indexed; names fold to lower case', async () => {
    const store = postgresStore({ pool, table: RECOMMENDED.toUpperCase() });
    const long = 'L'.repeat(256);
    await store.insert(long, Buffer.from([0, 1, 2, 255]));
    expect([...(await store.materialize(long)).data as Buffer]).toEqual([0, 1, 2, 255]);
    const { rows } = await pool.query("SELECT indexdef FROM pg_indexes WHERE tablename = $1 AND indexdef LIKE '%(updated_at)%'", [RECOMMENDED]);
    expect(rows).toHaveLength(1);
  });

  it('maxAge: a session not saved for longer is missing, and removed', async () => {
    const flavor = flavorOn(postgresStore({ pool, table: RECOMMENDED }), pool);
    const session = await flavor.open();
    const id = session._session_id;
    await tied(session)!.release();
    // updated_at keeps whole seconds: wait past the next one.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect(await rejectionOf(flavor.open(id, { maxAge: 100 }))).toBeInstanceOf(SessionNotFoundError);
    expect((await pool.query(`SELECT id FROM ${RECOMMENDED} WHERE id = $1`, [id])).rows).toHaveLength(0);
  });

  it('fuses only with a PostgreSQL locker on the same pool; parts made from one connection string share a pool, ended with the last of them', async () => {
    const store = postgresStore({ pool, table: RECOMMENDED });
    expect(store.fuse!(postgresLocker({ pool }))).toBeDefined();
    const other = new pg.Pool(POSTGRES);
    expect(store.fuse!(postgresLocker({ pool: other }))).toBeUndefined();
    expect(store.fuse!(memoryLocker())).toBeUndefined();
    await other.end();

    const fromString = postgresStore({ connectionString: `${CONNECTION_STRING}?table=${RECOMMENDED}` });
    const locker = postgresLocker({ connectionString: CONNECTION_STRING });
    expect(fromString.table).toBe(RECOMMENDED);
    expect(fromString.fuse!(locker)).toBeDefined();
    await fromString.close!();
    const lock = await locker.acquire(freshId(), 'write');
    await lock.release();
    await locker.close!();
    expect(((await rejectionOf(locker.acquire(freshId(), 'write'))) as Error).message).toMatch(/PostgreSQL pool postgres:\/\/postgres@127.0.0.1:5432\/test was ended/);
  });

  it("a new session is committed at open: while it is held, the store's other connections see it, and save() and delete() work", async () => {
    const store = postgresStore({ pool, table: RECOMMENDED });
    const flavor = flavorOn(store, pool);
    const session = await flavor.open<{ n: number }>();
    const id = session._session_id;
    expect(superjson().unserialize((await store.materialize(id)).data)).toEqual({ _session_id: id });
    session.n = 1;
    await tied(session)!.save();
    const { rows: [saved] } = await pool.query(`SELECT convert_from(a_session, 'UTF8') AS text FROM ${RECOMMENDED} WHERE id = $1`, [id]);
    expect(saved.text).toContain('"n":1');
    await tied(session)!.delete();
    expect((await pool.query(`SELECT 1 FROM ${RECOMMENDED} WHERE id = $1`, [id])).rowCount).toBe(0);
  });

  it("the lock outlives save()'s commit, held by one client only, and is gone after release, with or without a save", async () => {
    const store = postgresStore({ pool, table: RECOMMENDED });
    const flavor = flavorOn(store, pool);
    const holders = async (id: string) => (await pool.query<{ pid: number }>(
      `SELECT DISTINCT pid FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 1 AND granted
         AND ((classid::bigint << 32) | objid::bigint) = ${lockKeySql(id)}`,
    )).rows.length;
    const taken = async (id: string) => (await pool.query<{ taken: boolean }>(`SELECT pg_try_advisory_xact_lock(${lockKeySql(id)}) AS taken`)).rows[0]!.taken;
    const created = await flavor.open<{ n: number }>();
    const id = created._session_id;
    expect(await holders(id)).toBe(1);
    await tied(created)!.release();
    expect(await holders(id)).toBe(0);

    const session = await flavor.open<{ n: number }>(id);
    expect(await holders(id)).toBe(1);
    session.n = 1;
    await tied(session)!.save();
    session.n = 2;
    await tied(session)!.save();
    expect(await holders(id)).toBe(1);
    expect(await taken(id)).toBe(false);
    session.n = 3;
    await tied(session)!.release();
    expect(await holders(id)).toBe(0);

    const unchanged = await flavor.open<{ n: number }>(id);
    expect(unchanged.n).toBe(3);
    await tied(unchanged)!.release();
    expect(await holders(id)).toBe(0);
    expect(await taken(id)).toBe(true);
  });

  it('a locked cycle costs 2 round trips, a new session 2, a read-only open 2', async () => {
    const proxy = await roundTripProxy(POSTGRES.port);
    const counted = new pg.Pool({ ...POSTGRES, port: proxy.port, max: 1 });
    try {
      const flavor = flavorOn(postgresStore({ pool: counted, table: RECOMMENDED }), counted);
      // Warm up: the pool connects, the store reads the table's columns once.
      const warm = await flavor.open<{ n: number }>();
      warm.n = 0;
      const id = warm._session_id;
      await tied(warm)!.release();

      proxy.reset();
      const fresh = await flavor.open<{ n: number }>();
      fresh.n = 1;
      await tied(fresh)!.release();
      expect(proxy.roundTrips).toBe(2);

      proxy.reset();
      const session = await flavor.open<{ n: number }>(id);
      session.n += 1;
      await tied(session)!.release();
      expect(proxy.roundTrips).toBe(2);

      proxy.reset();
      const reader = await flavor.open<{ n: number }>(id, { readonly: true });
      expect(reader.n).toBe(1);
      await tied(reader)!.release();
      expect(proxy.roundTrips).toBe(2);
    } finally {
      await counted.end();
      await proxy.close();
    }
  });
});
