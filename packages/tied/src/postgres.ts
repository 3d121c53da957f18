import type { Flavor, OpenOptions, Session, SessionData } from '@tied/core';
import type { PostgresConnectionOptions } from '@tied/stores/postgres';
import { dataSourceUrl } from './dbi-data-source.js';
import { flexFlavor, registerPart, splitFlexArgs, type FlexArgs } from './flex.js';

/** What `PostgresSession.open` takes: the connection, the store's options, and open options. */
export interface PostgresSessionArgs extends OpenOptions {
  /** A pg Pool you already have (tied never ends it). */
  pool?: PostgresPool;
  /** Or tied makes a pool for this connection string; `(await PostgresSession.flavor({ connectionString })).close()` ends it. */
  connectionString?: string;
  /** Default `sessions`. */
  table?: string;
  /** 'recommended' (default) or 'perl' (Apache::Session's table as it is: text only, no purge, no maxAge). */
  schema?: 'recommended' | 'perl';
  /** Create the table, unless it exists, when the parts are made. */
  createTable?: boolean;
}

type PostgresPool = NonNullable<PostgresConnectionOptions['pool']>;

const POSTGRES_PARTS = { store: 'Postgres', lock: 'Postgres', generate: 'Nanoid', serialize: 'SuperJSON' } as const;

/** The driver is loaded when a PostgreSQL part is first made, so tied works without pg installed. */
async function load<T>(importing: Promise<T>): Promise<T> {
  try {
    return await importing;
  } catch (error) {
    if ((error as { code?: string }).code === 'ERR_MODULE_NOT_FOUND' && /'pg'/.test((error as Error).message)) {
      throw new Error('The PostgreSQL parts of tied need the pg package: npm install pg', { cause: error });
    }
    throw error;
  }
}

/** The connection a part gets from Flex arguments: a pool (Perl's Handle, LockHandle), a connection string, or Perl's DataSource. */
function connection(args: Record<string, unknown>, forLock: boolean) {
  const dataSource = (forLock ? dataSourceUrl(args, 'Pg', 'Lock') : undefined) ?? dataSourceUrl(args, 'Pg');
  return { pool: args.pool as PostgresPool | undefined, connectionString: (args.connectionString as string | undefined) ?? dataSource };
}

registerPart('store', 'Postgres', async (args) => {
  const { postgresStore } = await load(import('@tied/stores/postgres'));
  const store = postgresStore({ ...connection(args, false), table: args.table as string | undefined, schema: args.schema as PostgresSessionArgs['schema'] });
  if (args.createTable === true) await store.createTable();
  return store;
});
registerPart('lock', 'Postgres', async (args) => {
  const { postgresLocker } = await load(import('@tied/lockers/postgres'));
  return postgresLocker(connection(args, true));
});

/**
 * Sessions in a PostgreSQL table, locked with advisory locks, nanoid ids, superjson. Every open with
 * the same pool (or connection string) and options shares one set of parts.
 */
export const PostgresSession = {
  /** Opens the session `id`, or a new one when `id` is undefined. */
  async open<T extends object = SessionData>(id: string | undefined, args: PostgresSessionArgs): Promise<Session<T>> {
    const { partArgs, options } = splitFlexArgs(args as FlexArgs);
    const flavor = await flexFlavor(POSTGRES_PARTS, partArgs);
    return flavor.open<T>(id, options);
  },
  /** The flavor `open` uses for these arguments (to reach its parts, or `close()` what a connection string opened). */
  flavor(args: PostgresSessionArgs): Promise<Flavor> {
    return flexFlavor(POSTGRES_PARTS, splitFlexArgs(args as FlexArgs).partArgs);
  },
};
