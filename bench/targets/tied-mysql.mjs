import { mysqlPool } from '../lib/mysql-admin.mjs';
import { tiedTarget } from '../lib/tied-target.mjs';
import { tiedExport } from '../lib/unavailable.mjs';

/** tied's MySQLSession on one mysql2 pool, opened as its users do: `MySQLSession.open(id, { pool, table })`. */
export async function open({ name }) {
  const MySQLSession = await tiedExport('tied', 'MySQLSession');
  const { pool, dropTable } = await mysqlPool();
  const args = { pool, table: name };
  return tiedTarget({
    open: (id, options) => MySQLSession.open(id, { ...args, ...options }),
    reset: () => dropTable(name),
    drop: () => dropTable(name),
    close: () => pool.end(),
  });
}
