import pg from 'pg';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { serviceUnavailable, testOrSkip } from '@tied/conformance/jest';
import { tied } from 'tied';
import { Postgres } from 'tied/apache';
import { interopTests, perlRead, perlUnavailable, type InteropConfig } from './apache-interop.js';

// Perl's schema, in tables of this test's own; the second is made by createTable.
const table = 'tied_perl_pg_sessions';
const createdTable = 'tied_perl_pg_sessions_created';
const pool = new pg.Pool({ host: '127.0.0.1', user: 'postgres', database: 'test', max: 6 });

const skip = await serviceUnavailable('PostgreSQL at 127.0.0.1:5432', () => pool.query('SELECT 1'))
  ?? await perlUnavailable(['Apache::Session::Postgres', 'DBD::Pg']);

beforeAll(async () => {
  if (skip !== undefined) return;
  await pool.query(`DROP TABLE IF EXISTS ${table}, ${createdTable}`);
  await pool.query(`CREATE TABLE ${table} (id char(32) not null primary key, a_session text)`);
});

afterAll(async () => {
  if (skip === undefined) await pool.query(`DROP TABLE IF EXISTS ${table}, ${createdTable}`);
  await pool.end();
});

const config: InteropConfig = { backend: 'Postgres', table };

describe("tied/apache Postgres: Perl's configuration", () => {
  const it = testOrSkip(skip);

  it("DataSource, UserName, Password and TableName as Perl passes them; createTable makes Perl's table", async () => {
    const perlArgs = { DataSource: 'DBI:Pg:dbname=test;host=127.0.0.1', UserName: 'postgres', Password: '', TableName: createdTable, createTable: true };
    const flavor = await Postgres.flavor(perlArgs);
    try {
      const session = await Postgres.open(undefined, perlArgs);
      session.from = 'node';
      const id = session._session_id;
      await tied(session)!.release();
      expect(await perlRead({ backend: 'Postgres', table: createdTable }, id)).toMatchObject({ from: 'node' });
      const { rows } = await pool.query<{ name: string; type: string }>(
        `SELECT attname AS name, format_type(atttypid, atttypmod) AS type FROM pg_attribute
          WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum`,
        [createdTable],
      );
      expect(rows.map((column) => [column.name, column.type])).toEqual([['id', 'character(32)'], ['a_session', 'text']]);
    } finally {
      // The pool tied made from the DataSource.
      await flavor.close();
    }
  });
});

interopTests('Postgres', skip, () => ({
  config,
  open: (id, options) => Postgres.open(id, { pool, table, ...options }),
  // Perl's Store::Postgres waiting in SELECT … FOR UPDATE for our row lock shows in pg_stat_activity.
  perlIsWaiting: async () => {
    const { rows } = await pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_stat_activity
        WHERE pid <> pg_backend_pid() AND wait_event_type = 'Lock' AND query LIKE $1`,
      [`%${table}%FOR UPDATE%`],
    );
    return rows[0]!.n > 0;
  },
}));
