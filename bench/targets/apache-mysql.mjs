import { mysqlPool } from '../lib/mysql-admin.mjs';
import { tiedTarget } from '../lib/tied-target.mjs';
import { tiedExport } from '../lib/unavailable.mjs';

/**
 * tied/apache's MySQL flavor: Perl's table (created here as for Perl), hex ids, Storable,
 * GET_LOCK('Apache-Session-<id>'). Opened as its users do: `MySQL.open(id, { pool, table })`.
 */
export async function open({ name }) {
  const MySQL = await tiedExport('tied/apache', 'MySQL');
  const pool = await mysqlPool();
  const args = { pool, table: name };
  const dropTable = async () => { await pool.query(`DROP TABLE IF EXISTS ${name}`); };
  return tiedTarget({
    open: (id, options) => MySQL.open(id, { ...args, ...options }),
    async reset() {
      await dropTable();
      await pool.query(`CREATE TABLE ${name} (id char(32) NOT NULL PRIMARY KEY, a_session blob)`);
    },
    drop: dropTable,
    close: () => pool.end(),
  });
}
