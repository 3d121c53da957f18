import mysql from 'mysql2';
import { MYSQL } from '../lib/services.mjs';
import { reachable } from '../lib/unavailable.mjs';
import { randomId } from '../lib/workload.mjs';

/** MariaDB takes no "wait forever" timeout for GET_LOCK (a negative one returns NULL); Perl waits an hour too. */
const LOCK_WAIT_SECONDS = 3600;

/**
 * The MySQL floor: one connection on mysql2's callback API (its promise wrapper costs a few µs a
 * query), two round trips per cycle as multi-statements — GET_LOCK + SELECT, then UPDATE +
 * RELEASE_LOCK — with the SQL text built once.
 */
export async function open({ name }) {
  const db = mysql.createConnection({ ...MYSQL, multipleStatements: true });
  db.on('error', () => {});
  const query = (sql, values) => new Promise((resolve, reject) => {
    db.query(sql, values, (error, results) => (error ? reject(error) : resolve(results)));
  });
  await reachable('MySQL at 127.0.0.1:3306', () => query('SELECT 1'));
  const lockAndRead = `SELECT GET_LOCK(?, ${LOCK_WAIT_SECONDS}) AS locked; SELECT data FROM ${name} WHERE id = ?`;
  const writeAndUnlock = `UPDATE ${name} SET data = ? WHERE id = ?; DO RELEASE_LOCK(?)`;
  const lockName = (id) => `${name}:${id}`;
  return {
    async reset() {
      await query(`DROP TABLE IF EXISTS ${name}; CREATE TABLE ${name} (id char(32) PRIMARY KEY, data blob NOT NULL)`);
    },
    async drop() { await query(`DROP TABLE IF EXISTS ${name}`); },
    async seed(data) {
      const id = randomId();
      await query(`INSERT INTO ${name} (id, data) VALUES (?, ?)`, [id, JSON.stringify(data)]);
      return id;
    },
    async cycle(id, i) {
      const lock = lockName(id);
      const [[{ locked }], [row]] = await query(lockAndRead, [lock, id]);
      if (locked !== 1) throw new Error(`GET_LOCK failed for ${id}`);
      const data = JSON.parse(row.data);
      data.count++;
      data.last = i;
      await query(writeAndUnlock, [JSON.stringify(data), id, lock]);
    },
    async count(id) {
      const [row] = await query(`SELECT data FROM ${name} WHERE id = ?`, [id]);
      return JSON.parse(row.data).count;
    },
    close: () => new Promise((resolve) => { db.end(() => resolve()); }),
  };
}
