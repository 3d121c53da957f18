import pg from 'pg';
import { POSTGRES } from '../lib/services.mjs';
import { reachable } from '../lib/unavailable.mjs';
import { randomId } from '../lib/workload.mjs';

/**
 * The Postgres floor: one connection, two round trips per cycle — `BEGIN; SELECT … FOR UPDATE`,
 * then `UPDATE; COMMIT`. Several statements in one round trip need the simple query protocol,
 * so values go in as escaped literals.
 */
export async function open({ name }) {
  const db = new pg.Client(POSTGRES);
  await reachable('PostgreSQL at 127.0.0.1:5432', () => db.connect());
  const literal = (value) => db.escapeLiteral(value);
  return {
    async reset() {
      await db.query(`DROP TABLE IF EXISTS ${name}; CREATE TABLE ${name} (id text PRIMARY KEY, data text NOT NULL)`);
    },
    async drop() { await db.query(`DROP TABLE IF EXISTS ${name}`); },
    async seed(data) {
      const id = randomId();
      await db.query(`INSERT INTO ${name} (id, data) VALUES ($1, $2)`, [id, JSON.stringify(data)]);
      return id;
    },
    async cycle(id, i) {
      const [, selected] = await db.query(`BEGIN; SELECT data FROM ${name} WHERE id = ${literal(id)} FOR UPDATE`);
      const data = JSON.parse(selected.rows[0].data);
      data.count++;
      data.last = i;
      await db.query(`UPDATE ${name} SET data = ${literal(JSON.stringify(data))} WHERE id = ${literal(id)}; COMMIT`);
    },
    async count(id) {
      const { rows } = await db.query(`SELECT data FROM ${name} WHERE id = $1`, [id]);
      return JSON.parse(rows[0].data).count;
    },
    close: () => db.end(),
  };
}
