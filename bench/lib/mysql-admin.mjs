import mysql from 'mysql2/promise';
import { MYSQL } from './services.mjs';
import { reachable } from './unavailable.mjs';

/** A pool for a tied MySQL flavor, checked to be reachable, and a way to drop its table. */
export async function mysqlPool() {
  const pool = mysql.createPool({ ...MYSQL, connectionLimit: 4 });
  await reachable('MySQL at 127.0.0.1:3306', () => pool.query('SELECT 1'));
  return {
    pool,
    dropTable: async (table) => { await pool.query(`DROP TABLE IF EXISTS ${table}`); },
  };
}
