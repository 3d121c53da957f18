import { afterAll, beforeAll, describe, expect } from '@jest/globals';
import mysql, { type Pool, type RowDataPacket } from 'mysql2';
import { accessSuite, freshId, serviceUnavailable, storeSuite, testOrSkip } from '@tied/conformance/jest';
import {
  InvalidSessionIdError,
  SerializationError,
  SessionNotFoundError,
  SessionTooLargeError,
  defineSession,
  memoryLocker,
  tied,
  type Flavor,
} from '@tied/core';
import { nanoid } from '@tied/generators';
import { lockName, mysqlLocker } from '@tied/lockers/mysql';
import { superjson } from '@tied/serializers';
import { mysqlStore } from '@tied/stores/mysql';
import { roundTripProxy } from './helpers/round-trip-proxy.js';

const MYSQL = { host: '127.0.0.1', port: 3306, user: 'root', database: 'test' };
const URI = 'mysql://root@127.0.0.1:3306/test';
const pool = mysql.createPool({ ...MYSQL, multipleStatements: true, connectionLimit: 6 });
const admin = pool.promise();
const skip = await serviceUnavailable('MariaDB at 127.0.0.1:3306', () => admin.query('SELECT 1'));
const it = testOrSkip(skip);

const CONFORMANCE = 'tied_conf_mysql';
const CONFORMANCE_PERL = 'tied_conf_mysql_perl';
const PERL = 'tied_test_mysql_perl';
const RECOMMENDED = 'tied_test_mysql_store';
const TEXT = 'tied_test_mysql_text';
const TABLES = [CONFORMANCE, CONFORMANCE_PERL, PERL, RECOMMENDED, TEXT];

const rejectionOf = (promise: Promise<unknown>): Promise<unknown> =>
  promise.then(() => { throw new Error('expected a rejection'); }, (error: unknown) => error);

/** A flavor on these parts with the store's own locker, fused. */
const flavorOn = (store: ReturnType<typeof mysqlStore>, lockPool: Pool): Flavor =>
  defineSession({ store, locker: mysqlLocker({ pool: lockPool }), generator: nanoid(), serializer: superjson() });

if (skip === undefined) {
  beforeAll(async () => {
    await admin.query(TABLES.map((table) => `DROP TABLE IF EXISTS ${table}`).join('; '));
    await mysqlStore({ pool, table: CONFORMANCE }).createTable();
    await mysqlStore({ pool, table: RECOMMENDED }).createTable();
    await mysqlStore({ pool, table: CONFORMANCE_PERL, schema: 'perl' }).createTable();
    // Perl's schema, as Apache::Session::Store::MySQL documents it.
    await admin.query(`CREATE TABLE ${PERL} (id char(32) not null primary key, a_session blob)`);
    await admin.query(`CREATE TABLE ${TEXT} (id char(32) not null primary key, a_session text CHARACTER SET utf8mb4)`);
  });
}
afterAll(async () => {
  if (skip === undefined) await admin.query(TABLES.map((table) => `DROP TABLE IF EXISTS ${table}`).join('; '));
  await admin.end();
});

storeSuite({ name: 'mysqlStore', skip, factory: () => mysqlStore({ pool, table: CONFORMANCE }) });
storeSuite({ name: "mysqlStore on Perl's schema", skip, factory: () => mysqlStore({ pool, table: CONFORMANCE_PERL, schema: 'perl' }) });
accessSuite({ name: "mysqlStore on Perl's schema + mysqlLocker", skip, factory: () => ({ store: mysqlStore({ pool, table: CONFORMANCE_PERL, schema: 'perl' }), locker: mysqlLocker({ pool }) }) });

describe('mysqlStore', () => {
  it("a 70 kB session on Perl's blob schema is refused with SessionTooLargeError, the stored version whole and the lock freed, even where the server would truncate", async () => {
    // sql_mode '' is where MariaDB truncates a blob silently (with a warning): the store must not rely on strict mode.
    const loose = mysql.createPool({ ...MYSQL, multipleStatements: true, connectionLimit: 2 });
    loose.on('connection', (connection) => connection.query("SET SESSION sql_mode = ''"));
    try {
      const control = freshId();
      await loose.promise().query(`INSERT INTO ${PERL} (id, a_session) VALUES (?, ?)`, [control, Buffer.alloc(70_000, 120)]);
      const [[truncated]] = await loose.promise().query<RowDataPacket[]>(`SELECT LENGTH(a_session) AS size FROM ${PERL} WHERE id = ?`, [control]);
      expect(truncated!.size).toBe(65_535);

      const store = mysqlStore({ pool: loose, table: PERL, schema: 'perl' });
      const flavor = flavorOn(store, loose);
      const created = await flavor.open();
      created.note = 'small';
      const id = created._session_id;
      await tied(created)!.release();

      const session = await flavor.open(id);
      session.blob = 'x'.repeat(70_000);
      const error = await rejectionOf(tied(session)!.release());
      expect(error).toBeInstanceOf(SessionTooLargeError);
      expect(error).toMatchObject({ code: 'ERR_SESSION_TOO_LARGE', limit: 65_535 });
      const [[lock]] = await admin.query<RowDataPacket[]>('SELECT IS_USED_LOCK(?) AS holder', [lockName(id)]);
      expect(lock!.holder).toBeNull();

      expect(await rejectionOf(store.update(id, Buffer.alloc(70_000)))).toBeInstanceOf(SessionTooLargeError);
      const again = await flavor.open(id, { lockTimeout: 2000 });
      expect({ ...again }).toEqual({ _session_id: id, note: 'small' });
      await tied(again)!.release();
    } finally {
      await loose.promise().end();
    }
  });

  it('an id longer than the id column is refused with InvalidSessionIdError, nothing written (a loose sql_mode would truncate it)', async () => {
    const loose = mysql.createPool({ ...MYSQL, connectionLimit: 1 });
    loose.on('connection', (connection) => connection.query("SET SESSION sql_mode = ''"));
    try {
      const store = mysqlStore({ pool: loose, table: PERL, schema: 'perl' });
      const id = freshId() + 'abcdefgh';
      expect(await rejectionOf(store.insert(id, 'x'))).toBeInstanceOf(InvalidSessionIdError);
      const [rows] = await admin.query<RowDataPacket[]>(`SELECT id FROM ${PERL} WHERE id = ?`, [id.slice(0, 32)]);
      expect(rows).toHaveLength(0);
    } finally {
      await loose.promise().end();
    }
  });

  it('a text column takes text, and refuses a binary payload with SerializationError', async () => {
    const store = mysqlStore({ pool, table: TEXT, schema: 'perl' });
    const id = freshId();
    expect(await rejectionOf(store.insert(id, Uint8Array.of(1, 2, 255)))).toBeInstanceOf(SerializationError);
    await store.insert(id, 'Grüße 🚀');
    expect((await store.materialize(id)).data).toBe('Grüße 🚀');
  });

  it("Perl's table works unchanged without the schema option (detected), with purge and maxAge refused; schema: 'recommended' on it, or a missing table, is a clear error", async () => {
    const store = mysqlStore({ pool, table: PERL });
    expect(await store.detectSchema()).toBe('perl');
    expect(store.capabilities).toMatchObject({ updatedAt: false, purge: false, maxPayloadBytes: 65_535 });
    expect(store.purge).toBeUndefined();
    const flavor = flavorOn(store, pool);
    const created = await flavor.open<{ n: number }>();
    created.n = 1;
    const id = created._session_id;
    await tied(created).release();
    const again = await flavor.open<{ n: number }>(id);
    expect(again.n).toBe(1);
    await tied(again).release();
    expect(await rejectionOf(flavor.purge({ olderThan: 0 }))).toBeInstanceOf(TypeError);
    expect(((await rejectionOf(flavor.open(id, { maxAge: 1000 }))) as Error).message).toMatch(/maxAge needs a store that keeps updatedAt/);

    const onPerl = await rejectionOf(mysqlStore({ pool, table: PERL, schema: 'recommended' }).insert(freshId(), 'x'));
    expect((onPerl as Error).message).toMatch(/no updated_at column.*leave schema out.*ALTER TABLE/);
    const missing = await rejectionOf(mysqlStore({ pool, table: 'tied_test_mysql_missing' }).insert(freshId(), 'x'));
    expect((missing as Error).message).toMatch(/does not exist; create it with store.createTable\(\)/);
  });

  it('createTable makes the recommended schema: case-sensitive ids up to 256 characters, payloads over 64 kB, updated_at', async () => {
    const store = mysqlStore({ pool, table: RECOMMENDED });
    const lower = `abc${freshId()}`;
    const upper = lower.toUpperCase();
    const long = 'L'.repeat(256);
    await store.insert(lower, 'lower');
    await store.insert(upper, 'upper');
    await store.insert(long, Buffer.alloc(200_000, 7));
    expect((await store.materialize(lower)).data.toString()).toBe('lower');
    expect((await store.materialize(upper)).data.toString()).toBe('upper');
    expect((await store.materialize(long)).data.length).toBe(200_000);
    const [[column]] = await admin.query<RowDataPacket[]>(
      "SELECT COUNT(*) AS indexed FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND COLUMN_NAME = 'updated_at'",
      [RECOMMENDED],
    );
    expect(column!.indexed).toBe(1);
  });

  it('works whatever the pool returns by default: rows as arrays, big numbers as strings, affected rather than found rows', async () => {
    const odd = mysql.createPool({ ...MYSQL, multipleStatements: true, connectionLimit: 1, rowsAsArray: true, supportBigNumbers: true, bigNumberStrings: true, flags: ['-FOUND_ROWS'] });
    try {
      const store = mysqlStore({ pool: odd, table: RECOMMENDED });
      const flavor = flavorOn(store, odd);
      const session = await flavor.open<{ n: number }>();
      session.n = 1;
      const id = session._session_id;
      await tied(session)!.release();
      // The same bytes twice: no row changes, yet the row was found.
      await store.update(id, 'same');
      await store.update(id, 'same');
      const { data, updatedAt } = await store.materialize(id);
      expect([data.toString(), typeof updatedAt]).toEqual(['same', 'number']);
    } finally {
      await odd.promise().end();
    }
  });

  it('maxAge: a session not saved for longer is missing, and removed', async () => {
    const flavor = flavorOn(mysqlStore({ pool, table: RECOMMENDED }), pool);
    const session = await flavor.open();
    const id = session._session_id;
    await tied(session)!.release();
    // updated_at keeps whole seconds: wait past the next one.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect(await rejectionOf(flavor.open(id, { maxAge: 100 }))).toBeInstanceOf(SessionNotFoundError);
    expect((await admin.query<RowDataPacket[]>(`SELECT id FROM ${RECOMMENDED} WHERE id = ?`, [id]))[0]).toHaveLength(0);
  });

  it('fuses only with a MySQL locker on the same pool; parts made from one uri share a pool, ended with the last of them', async () => {
    const store = mysqlStore({ pool, table: RECOMMENDED });
    expect(store.fuse!(mysqlLocker({ pool }))).toBeDefined();
    expect(store.fuse!(mysqlLocker({ pool: admin }))).toBeDefined();
    const other = mysql.createPool(MYSQL);
    expect(store.fuse!(mysqlLocker({ pool: other }))).toBeUndefined();
    expect(store.fuse!(memoryLocker())).toBeUndefined();
    await other.promise().end();

    const fromUri = mysqlStore({ uri: `${URI}?table=${RECOMMENDED}` });
    const locker = mysqlLocker({ uri: URI });
    expect(fromUri.table).toBe(RECOMMENDED);
    expect(fromUri.fuse!(locker)).toBeDefined();
    await fromUri.close!();
    const lock = await locker.acquire(freshId(), 'write');
    await lock.release();
    await locker.close!();
    expect(((await rejectionOf(locker.acquire(freshId(), 'write'))) as Error).message).toMatch(/MySQL pool mysql:\/\/root@127.0.0.1:3306\/test was ended/);
  });

  it('a locked cycle costs 2 round trips, a new session 2, a read-only open 2; one by one without multipleStatements', async () => {
    const proxy = await roundTripProxy(MYSQL.port);
    try {
      // [multipleStatements, new session, open + write + release, read-only open + release]
      for (const [multipleStatements, created, cycle, readonly] of [[true, 2, 2, 2], [false, 4, 4, 3]] as const) {
        const counted = mysql.createPool({ ...MYSQL, port: proxy.port, multipleStatements, connectionLimit: 1 });
        const flavor = flavorOn(mysqlStore({ pool: counted, table: RECOMMENDED }), counted);
        // Warm up: the pool connects, the store reads the table's columns once.
        const warm = await flavor.open<{ n: number }>();
        warm.n = 0;
        const id = warm._session_id;
        await tied(warm)!.release();

        proxy.reset();
        const fresh = await flavor.open<{ n: number }>();
        fresh.n = 1;
        await tied(fresh)!.release();
        expect({ multipleStatements, created: proxy.roundTrips }).toEqual({ multipleStatements, created });

        proxy.reset();
        const session = await flavor.open<{ n: number }>(id);
        session.n += 1;
        await tied(session)!.release();
        expect({ multipleStatements, cycle: proxy.roundTrips }).toEqual({ multipleStatements, cycle });

        proxy.reset();
        const reader = await flavor.open<{ n: number }>(id, { readonly: true });
        expect(reader.n).toBe(1);
        await tied(reader)!.release();
        expect({ multipleStatements, readonly: proxy.roundTrips }).toEqual({ multipleStatements, readonly });
        await counted.promise().end();
      }
    } finally {
      await proxy.close();
    }
  });
});
