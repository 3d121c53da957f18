import { mysqlPool } from '../lib/mysql-admin.mjs';
import { tiedTarget } from '../lib/tied-target.mjs';
import { tiedExport } from '../lib/unavailable.mjs';

/**
 * tied's MySQLSession on one mysql2 pool, opened as its users do:
 * `MySQLSession.open(id, { pool, table, createTable: true })` (the table is made with the parts, on first open).
 * `lock`: the lock to pick (tied-mysql-lease: 'MySQLLease', whose lease table is dropped with the table).
 */
export async function open({ name }, lock) {
  const MySQLSession = await tiedExport('tied', 'MySQLSession');
  const pool = await mysqlPool();
  const args = { pool, table: name, createTable: true, ...(lock ? { lock } : {}) };
  const dropTable = async () => { await pool.query(`DROP TABLE IF EXISTS ${name}, ${name}_leases`); };
  return tiedTarget({
    open: (id, options) => MySQLSession.open(id, { ...args, ...options }),
    reset: dropTable,
    drop: dropTable,
    close: () => pool.end(),
  });
}
