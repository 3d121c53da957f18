import pg from 'pg';
import { POSTGRES } from '../lib/services.mjs';
import { tiedTarget } from '../lib/tied-target.mjs';
import { reachable, tiedExport } from '../lib/unavailable.mjs';

/**
 * tied/apache's Postgres flavor: Perl's table (created here as for Perl), hex ids,
 * base64(Storable), the row held by `SELECT … FOR UPDATE` in a transaction from open to release
 * (Apache::Session::Postgres with Commit => 1). Opened as its users do: `Postgres.open(id, { pool, table })`.
 */
export async function open({ name }) {
  const Postgres = await tiedExport('tied/apache', 'Postgres');
  const pool = new pg.Pool(POSTGRES);
  pool.on('error', () => {});
  await reachable('PostgreSQL at 127.0.0.1:5432', () => pool.query('SELECT 1'));
  const args = { pool, table: name };
  const dropTable = async () => { await pool.query(`DROP TABLE IF EXISTS ${name}`); };
  return tiedTarget({
    open: (id, options) => Postgres.open(id, { ...args, ...options }),
    async reset() {
      await dropTable();
      await pool.query(`CREATE TABLE ${name} (id char(32) NOT NULL PRIMARY KEY, a_session text)`);
    },
    drop: dropTable,
    async close() {
      await Postgres.close(args);
      await pool.end();
    },
  });
}
