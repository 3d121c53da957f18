import mysql from 'mysql2';
import { afterAll, beforeAll } from '@jest/globals';
import { serviceUnavailable } from '@tied/conformance';
import { MySQL } from 'tied/apache';
import { interopTests, perlUnavailable, type InteropConfig } from './apache-interop.js';

// Perl's schema, in a table of this test's own.
const table = 'tied_perl_sessions';
const pool = mysql.createPool({ host: '127.0.0.1', user: 'root', database: 'test', multipleStatements: true, connectionLimit: 4 });
const db = pool.promise();

const skip = await serviceUnavailable('MariaDB at 127.0.0.1:3306', () => db.query('SELECT 1'))
  ?? await perlUnavailable(['Apache::Session::MySQL', 'DBD::mysql']);

beforeAll(async () => {
  if (skip !== undefined) return;
  await db.query(`DROP TABLE IF EXISTS ${table}`);
  await db.query(`CREATE TABLE ${table} (id char(32) not null primary key, a_session blob)`);
});

afterAll(async () => {
  if (skip === undefined) await db.query(`DROP TABLE IF EXISTS ${table}`);
  await db.end();
});

const config: InteropConfig = { backend: 'MySQL', table };

interopTests('MySQL', skip, () => ({
  config,
  open: (id, options) => MySQL.open(id, { pool, table, ...options }),
  // Perl's Lock::MySQL waiting in GET_LOCK('Apache-Session-<id>', 3600) shows in the process list.
  perlIsWaiting: async (_pid, id) => {
    const [rows] = await db.query<mysql.RowDataPacket[]>(
      'SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE ID <> CONNECTION_ID() AND INFO LIKE ?',
      [`%GET_LOCK('Apache-Session-${id}'%`],
    );
    return Number(rows[0]!.n) > 0;
  },
}));
