import mysql from 'mysql2/promise';
import { MYSQL } from './services.mjs';
import { reachable } from './unavailable.mjs';

/**
 * A pool for a tied MySQL flavor with mysql2's default size (10), set up as tied recommends (multipleStatements: a locked cycle in
 * 2 round trips), checked to be reachable, and a way to run the bench's own DDL on it.
 */
export async function mysqlPool() {
  const pool = mysql.createPool({ ...MYSQL, multipleStatements: true });
  await reachable('MySQL at 127.0.0.1:3306', () => pool.query('SELECT 1'));
  return pool;
}
