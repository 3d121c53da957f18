import mysql from 'mysql2/promise';
import { MYSQL } from '../lib/services.mjs';
import { reachable } from '../lib/unavailable.mjs';
import { randomId } from '../lib/workload.mjs';

/** MariaDB takes no "wait forever" timeout for GET_LOCK (a negative one returns NULL); Perl waits an hour too. */
const LOCK_WAIT_SECONDS = 3600;

/**
 * The MySQL floor: one connection, two round trips per cycle as multi-statements —
 * GET_LOCK + SELECT, then UPDATE + RELEASE_LOCK.
 */
export async function open({ name }) {
  const db = await reachable('MySQL at 127.0.0.1:3306', () => mysql.createConnection({ ...MYSQL, multipleStatements: true }));
  const lockName = (id) => `${name}:${id}`;
  return {
    async reset() {
      await db.query(`DROP TABLE IF EXISTS ${name}; CREATE TABLE ${name} (id char(32) PRIMARY KEY, data blob NOT NULL)`);
    },
    async drop() { await db.query(`DROP TABLE IF EXISTS ${name}`); },
    async seed(data) {
      const id = randomId();
      await db.query(`INSERT INTO ${name} (id, data) VALUES (?, ?)`, [id, JSON.stringify(data)]);
      return id;
    },
    async cycle(id, i) {
      const [[[lock], [row]]] = await db.query(
        `SELECT GET_LOCK(?, ?) AS locked; SELECT data FROM ${name} WHERE id = ?`,
        [lockName(id), LOCK_WAIT_SECONDS, id],
      );
      if (lock.locked !== 1) throw new Error(`GET_LOCK failed for ${id}`);
      const data = JSON.parse(row.data);
      data.count++;
      data.last = i;
      await db.query(`UPDATE ${name} SET data = ? WHERE id = ?; SELECT RELEASE_LOCK(?)`, [JSON.stringify(data), id, lockName(id)]);
    },
    async count(id) {
      const [[row]] = await db.query(`SELECT data FROM ${name} WHERE id = ?`, [id]);
      return JSON.parse(row.data).count;
    },
    close: () => db.end(),
  };
}
