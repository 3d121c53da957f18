import { mysqlPool } from '../lib/mysql-admin.mjs';
import { tiedTarget } from '../lib/tied-target.mjs';
import { tiedExport } from '../lib/unavailable.mjs';

/** tied/apache's MySQL flavor: Perl's table layout, hex ids, Storable, GET_LOCK('Apache-Session-<id>'). */
export async function open({ name }) {
  const MySQL = await tiedExport('tied/apache', 'MySQL');
  const { pool, dropTable } = await mysqlPool();
  const args = { pool, table: name };
  return tiedTarget({
    open: (id, options) => MySQL.open(id, { ...args, ...options }),
    reset: () => dropTable(name),
    drop: () => dropTable(name),
    close: () => pool.end(),
  });
}
