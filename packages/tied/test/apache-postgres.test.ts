import pg from 'pg';
import { afterAll, beforeAll } from '@jest/globals';
import { serviceUnavailable } from '@tied/conformance';
import { Postgres } from 'tied/apache';
import { interopTests, perlUnavailable, type InteropConfig } from './apache-interop.js';

// Perl's schema, in a table of this test's own.
const table = 'tied_perl_pg_sessions';
const pool = new pg.Pool({ host: '127.0.0.1', user: 'postgres', database: 'test', max: 6 });

const skip = await serviceUnavailable('PostgreSQL at 127.0.0.1:5432', () => pool.query('SELECT 1'))
  ?? await perlUnavailable(['Apache::Session::Postgres', 'DBD::Pg']);

beforeAll(async () => {
  if (skip !== undefined) return;
  await pool.query(`DROP TABLE IF EXISTS ${table}`);
  await pool.query(`CREATE TABLE ${table} (id char(32) not null primary key, a_session text)`);
});

afterAll(async () => {
  if (skip === undefined) await pool.query(`DROP TABLE IF EXISTS ${table}`);
  await pool.end();
});

const config: InteropConfig = { backend: 'Postgres', table };

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
