import connectPgSimple from 'connect-pg-simple';
import session from 'express-session';
import pg from 'pg';
import { expressStoreTarget } from '../lib/express-store.mjs';
import { POSTGRES } from '../lib/services.mjs';
import { reachable } from '../lib/unavailable.mjs';

const PgStore = connectPgSimple(session);

/** connect-pg-simple on a pg Pool; the table is created by the store (createTableIfMissing). */
export async function open({ name }) {
  const pool = new pg.Pool(POSTGRES);
  await reachable('PostgreSQL at 127.0.0.1:5432', () => pool.query('SELECT 1'));
  const drop = () => pool.query(`DROP TABLE IF EXISTS ${name}`);
  const store = new PgStore({ pool, tableName: name, createTableIfMissing: true, pruneSessionInterval: false, errorLog: () => {} });
  return expressStoreTarget(store, {
    reset: drop,
    drop,
    async close() {
      await store.close();
      await pool.end();
    },
  });
}
