import mysql from 'mysql2';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { serviceUnavailable, testOrSkip } from '@tied/conformance/jest';
import { tied } from 'tied';
import { MySQL } from 'tied/apache';
import { interopTests, perlRead, perlUnavailable, type InteropConfig } from './apache-interop.js';

// Perl's schema, in tables of this test's own; the second is made by createTable.
const table = 'tied_perl_sessions';
const createdTable = 'tied_perl_sessions_created';
const pool = mysql.createPool({ host: '127.0.0.1', user: 'root', database: 'test', multipleStatements: true, connectionLimit: 4 });
const db = pool.promise();

const skip = await serviceUnavailable('MariaDB at 127.0.0.1:3306', () => db.query('SELECT 1'))
  ?? await perlUnavailable(['Apache::Session::MySQL', 'DBD::mysql']);

beforeAll(async () => {
  if (skip !== undefined) return;
  await db.query(`DROP TABLE IF EXISTS ${table}, ${createdTable}`);
  await db.query(`CREATE TABLE ${table} (id char(32) not null primary key, a_session blob)`);
});

afterAll(async () => {
  if (skip === undefined) await db.query(`DROP TABLE IF EXISTS ${table}, ${createdTable}`);
  await db.end();
});

const config: InteropConfig = { backend: 'MySQL', table };

describe("tied/apache MySQL: Perl's configuration", () => {
  const it = testOrSkip(skip);

  it("DataSource, UserName, Password and TableName as Perl passes them; createTable makes Perl's table", async () => {
    const perlArgs = { DataSource: 'DBI:mysql:database=test;host=127.0.0.1', UserName: 'root', Password: '', TableName: createdTable, createTable: true };
    const flavor = await MySQL.flavor(perlArgs);
    try {
      const session = await MySQL.open(undefined, perlArgs);
      session.from = 'node';
      const id = session._session_id;
      await tied(session)!.release();
      expect(await perlRead({ backend: 'MySQL', table: createdTable }, id)).toMatchObject({ from: 'node' });
      const [columns] = await db.query<mysql.RowDataPacket[]>(
        'SELECT COLUMN_NAME AS name, COLUMN_TYPE AS type FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION',
        [createdTable],
      );
      expect(columns.map((column) => [column.name, column.type])).toEqual([['id', 'char(32)'], ['a_session', 'blob']]);
    } finally {
      // The pool tied made from the DataSource.
      await flavor.close();
    }
  });
});

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
