import { mkdir, rm } from 'node:fs/promises';
import session from 'express-session';
import { createPgSimpleTable } from '../lib/pg-simple-table.mjs';
import { MYSQL, POSTGRES, REDIS_URL } from '../lib/services.mjs';
import { reachable, tiedExport } from '../lib/unavailable.mjs';

/**
 * The session setup of each side of the HTTP benchmark, per backend: `tied` gives the flavor for
 * @tied/http's `sessionMiddleware`, `express` the store for express-session. Each works in the
 * namespace it is given (a table, a key prefix, a directory), emptied first, removed by `drop`.
 * Pools and clients are made with their drivers' default sizes.
 */
export const HTTP_BACKENDS = {
  memory: {
    async tied() {
      const MemorySession = await tiedExport('tied', 'MemorySession');
      return { flavor: MemorySession, drop: async () => {}, close: async () => {} };
    },
    async express() {
      return { store: new session.MemoryStore(), drop: async () => {}, close: async () => {} };
    },
  },
  file: {
    async tied({ dir }) {
      await fresh(dir);
      // FileSession reads $TIED_DIRECTORY when tied loads.
      process.env.TIED_DIRECTORY = dir;
      const FileSession = await tiedExport('tied', 'FileSession');
      return { flavor: FileSession, drop: () => rm(dir, { recursive: true, force: true }), close: async () => {} };
    },
    async express({ dir }) {
      await fresh(dir);
      const { default: sessionFileStore } = await import('session-file-store');
      const FileStore = sessionFileStore(session);
      return { store: new FileStore({ path: dir, reapInterval: -1, logFn: () => {} }), drop: () => rm(dir, { recursive: true, force: true }), close: async () => {} };
    },
  },
  mysql: {
    async tied({ name }) {
      const MySQLSession = await tiedExport('tied', 'MySQLSession');
      const { default: mysql } = await import('mysql2/promise');
      const pool = mysql.createPool({ ...MYSQL, multipleStatements: true });
      await reachable('MySQL at 127.0.0.1:3306', () => pool.query(`DROP TABLE IF EXISTS ${name}`));
      const args = { pool, table: name, createTable: true };
      return {
        flavor: await MySQLSession.flavor(args),
        drop: () => pool.query(`DROP TABLE IF EXISTS ${name}`),
        async close() { await MySQLSession.close(args); await pool.end(); },
      };
    },
    async express({ name }) {
      const { default: expressMySQLSession } = await import('express-mysql-session');
      const MySQLStore = expressMySQLSession(session);
      const store = new MySQLStore({ ...MYSQL, clearExpired: false, createDatabaseTable: false, schema: { tableName: name } });
      await reachable('MySQL at 127.0.0.1:3306', () => store.query(`DROP TABLE IF EXISTS ${name}`));
      await store.createDatabaseTable();
      return { store, drop: () => store.query(`DROP TABLE IF EXISTS ${name}`), close: () => store.close() };
    },
  },
  postgres: {
    async tied({ name }) {
      const PostgresSession = await tiedExport('tied', 'PostgresSession');
      const { default: pg } = await import('pg');
      const pool = new pg.Pool(POSTGRES);
      pool.on('error', () => {});
      await reachable('PostgreSQL at 127.0.0.1:5432', () => pool.query(`DROP TABLE IF EXISTS ${name}`));
      const args = { pool, table: name, createTable: true };
      return {
        flavor: await PostgresSession.flavor(args),
        drop: () => pool.query(`DROP TABLE IF EXISTS ${name}`),
        async close() { await PostgresSession.close(args); await pool.end(); },
      };
    },
    async express({ name }) {
      const { default: connectPgSimple } = await import('connect-pg-simple');
      const { default: pg } = await import('pg');
      const pool = new pg.Pool(POSTGRES);
      pool.on('error', () => {});
      await reachable('PostgreSQL at 127.0.0.1:5432', () => createPgSimpleTable(pool, name));
      const PgStore = connectPgSimple(session);
      const store = new PgStore({ pool, tableName: name, pruneSessionInterval: false, errorLog: () => {} });
      return {
        store,
        drop: () => pool.query(`DROP TABLE IF EXISTS ${name}`),
        async close() { await store.close(); await pool.end(); },
      };
    },
  },
  redis: {
    async tied({ name }) {
      const RedisSession = await tiedExport('tied', 'RedisSession');
      const { ioredisClient } = await import('../lib/ioredis.mjs');
      const { deleteRedisPrefix } = await import('../lib/namespaces.mjs');
      const admin = await ioredisClient();
      const args = { url: REDIS_URL, prefix: `${name}:` };
      await deleteRedisPrefix(admin, args.prefix);
      return {
        flavor: await RedisSession.flavor(args),
        drop: () => deleteRedisPrefix(admin, args.prefix),
        async close() { await RedisSession.close(args); await admin.quit(); },
      };
    },
    async express({ name }) {
      const { RedisStore } = await import('connect-redis');
      const { createClient } = await import('redis');
      const client = createClient({ url: REDIS_URL, socket: { reconnectStrategy: false } });
      client.on('error', () => {});
      await reachable('Redis at 127.0.0.1:6379', () => client.connect());
      const prefix = `${name}:`;
      const clear = async () => {
        for await (const keys of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 })) {
          if (keys.length > 0) await client.del(keys);
        }
      };
      await clear();
      return { store: new RedisStore({ client, prefix }), drop: clear, close: () => client.close() };
    },
  },
};

async function fresh(dir) {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
}
