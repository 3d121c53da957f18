import session from 'express-session';
import expressMySQLSession from 'express-mysql-session';
import { expressStoreTarget } from '../lib/express-store.mjs';
import { MYSQL } from '../lib/services.mjs';
import { reachable } from '../lib/unavailable.mjs';

const MySQLStore = expressMySQLSession(session);

/** express-mysql-session with its own pool (its bundled mysql2); the store creates its table from its schema. */
export async function open({ name }) {
  const store = new MySQLStore({ ...MYSQL, clearExpired: false, createDatabaseTable: false, schema: { tableName: name } });
  const query = (sql) => store.query(sql);
  await reachable('MySQL at 127.0.0.1:3306', () => query('SELECT 1'));
  return expressStoreTarget(store, {
    async reset() {
      await query(`DROP TABLE IF EXISTS ${name}`);
      await store.createDatabaseTable();
    },
    drop: () => query(`DROP TABLE IF EXISTS ${name}`),
    close: () => store.close(),
  });
}
