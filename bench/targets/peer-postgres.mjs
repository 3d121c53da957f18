import connectPgSimple from 'connect-pg-simple';
import session from 'express-session';
import pg from 'pg';
import { expressStoreTarget } from '../lib/express-store.mjs';
import { createPgSimpleTable } from '../lib/pg-simple-table.mjs';
import { POSTGRES } from '../lib/services.mjs';
import { reachable } from '../lib/unavailable.mjs';

const PgStore = connectPgSimple(session);

/** connect-pg-simple on a pg Pool (pg's default size); its table made as its table.sql has it, under names of this target's. */
export async function open({ name }) {
  const pool = new pg.Pool(POSTGRES);
  await reachable('PostgreSQL at 127.0.0.1:5432', () => pool.query('SELECT 1'));
  const drop = () => pool.query(`DROP TABLE IF EXISTS ${name}`);
  const store = new PgStore({ pool, tableName: name, pruneSessionInterval: false, errorLog: () => {} });
  return expressStoreTarget(store, {
    reset: () => createPgSimpleTable(pool, name),
    drop,
    async close() {
      await store.close();
      await pool.end();
    },
  });
}
