import pg from 'pg';
import { POSTGRES } from '../lib/services.mjs';
import { tiedTarget } from '../lib/tied-target.mjs';
import { reachable, tiedExport } from '../lib/unavailable.mjs';

/**
 * tied's PostgresSession on one pg pool, opened as its users do:
 * `PostgresSession.open(id, { pool, table, createTable: true })` (the table is made with the parts, on first open).
 * `lock`: the lock to pick (tied-postgres-lease: 'PostgresLease', whose lease table is dropped with the table).
 */
export async function open({ name }, lock) {
  const PostgresSession = await tiedExport('tied', 'PostgresSession');
  const pool = new pg.Pool(POSTGRES);
  await reachable('PostgreSQL at 127.0.0.1:5432', () => pool.query('SELECT 1'));
  const dropTable = async () => { await pool.query(`DROP TABLE IF EXISTS ${name}, ${name}_leases`); };
  const args = { pool, table: name, createTable: true, ...(lock ? { lock } : {}) };
  return tiedTarget({
    open: (id, options) => PostgresSession.open(id, { ...args, ...options }),
    reset: dropTable,
    drop: dropTable,
    close: () => pool.end(),
  });
}
