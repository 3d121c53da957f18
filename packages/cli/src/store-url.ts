import { fileURLToPath } from 'node:url';
import { defineSession, memoryLocker, nullLocker, type Flavor, type Generator, type Locker, type Serializer, type Store } from '@tied/core';
import { hex, nanoid, uuid } from '@tied/generators';
import { base64, json, storable, superjson } from '@tied/serializers';
import { CliError, EXIT } from './exit-codes.js';
import { maskUrl } from './redact.js';

/** What `--store` names, with the other parts picked by their Flex names. */
export interface StoreChoice {
  store: string;
  serializer?: string | undefined;
  locker?: string | undefined;
  generator?: string | undefined;
}

/** An opened store: the flavor, and how to name it in messages (password masked). */
export interface OpenedStore {
  flavor: Flavor;
  /** The URL as given, password masked. */
  shown: string;
  /** Ends the connections the command made. */
  close(): Promise<void>;
}

/** The backends a URL can name, by scheme. */
type Backend = 'file' | 'mysql' | 'postgres' | 'redis';
const SCHEMES: Readonly<Record<string, Backend>> = {
  'file:': 'file', 'mysql:': 'mysql', 'mariadb:': 'mysql', 'postgres:': 'postgres', 'postgresql:': 'postgres', 'redis:': 'redis',
};

/** Query parameters the command reads; the rest go to the driver with the URL. */
const PART_PARAMETERS = ['serializer', 'locker', 'generator', 'table', 'schema', 'prefix', 'lockDirectory'];

/** A server's connection, shared by the store and the locker so that they fuse their round trips. */
interface Connection {
  backend: Backend;
  store(): Store;
  /** The backend's own locker, which uses the same connection. */
  locker(): Locker;
  close(): Promise<void>;
}

const CONNECT_TIMEOUT_MS = 5_000;

/** Flex names (case-insensitive) of the serializers, generators and lockers, as `openSession` takes them. */
const SERIALIZERS: Readonly<Record<string, () => Serializer>> = {
  superjson: () => superjson(), json: () => json(), storable: () => storable(), base64: () => base64(storable()),
};
const GENERATORS: Readonly<Record<string, () => Generator>> = {
  nanoid: () => nanoid(), md5: () => hex({ length: 32 }), hex: () => hex(), uuid: () => uuid(),
};
const LOCKERS = ['null', 'memory', 'file', 'mysql', 'postgres', 'redis'];

function pick<T>(role: string, table: Readonly<Record<string, () => T>>, name: string): T {
  const make = table[name.toLowerCase()];
  if (!make) throw new CliError(`No ${role} named "${name}"; use one of ${Object.keys(table).join(', ')}`, EXIT.usage);
  return make();
}

/** `--serializer` wins over `?serializer=`; both name a part by its Flex name. */
function chosen(option: string | undefined, url: URL, parameter: string): string | undefined {
  return option ?? url.searchParams.get(parameter) ?? undefined;
}

export function parseStoreUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    // Not even a URL: do not echo it, it may hold a password.
    throw new CliError('The store is not a URL; use file:///path, mysql://user@host/db?table=…, postgres://user@host/db?table=…, redis://host:port/db?prefix=…', EXIT.unknownStore);
  }
  if (!(url.protocol in SCHEMES)) {
    throw new CliError(`Unknown store scheme "${url.protocol.slice(0, -1)}"; use file:, mysql: (or mariadb:), postgres: (or postgresql:), redis:`, EXIT.unknownStore);
  }
  return url;
}

/** Builds the flavor a store URL names. Connects lazily: nothing is reached until the first operation. */
export async function openStore(choice: StoreChoice): Promise<OpenedStore> {
  const url = parseStoreUrl(choice.store);
  const shown = maskUrl(url);
  const backend = SCHEMES[url.protocol]!;
  const serializer = pick('serializer', SERIALIZERS, chosen(choice.serializer, url, 'serializer') ?? 'superjson');
  const generator = pick('generator', GENERATORS, chosen(choice.generator, url, 'generator') ?? 'nanoid');
  const lockerName = (chosen(choice.locker, url, 'locker') ?? backend).toLowerCase();
  if (!LOCKERS.includes(lockerName)) throw new CliError(`No locker named "${lockerName}"; use one of ${LOCKERS.join(', ')}`, EXIT.usage);

  const connection = await connect(backend, url);
  try {
    const store = connection.store();
    const locker = await lockerFor(lockerName, connection, url);
    const flavor = defineSession({ store, locker, generator, serializer });
    return { flavor, shown, close: async () => { await flavor.close(); await connection.close(); } };
  } catch (error) {
    await connection.close();
    throw error;
  }
}

async function lockerFor(name: string, connection: Connection, url: URL): Promise<Locker> {
  if (name === 'null') return nullLocker();
  if (name === 'memory') return memoryLocker();
  if (name === connection.backend) return connection.locker();
  if (name === 'file') {
    const lockDirectory = url.searchParams.get('lockDirectory');
    if (!lockDirectory) throw new CliError('The file locker on a server store needs ?lockDirectory=/path in the store URL', EXIT.usage);
    const { fileLocker } = await import('@tied/lockers/file');
    return fileLocker({ lockDirectory });
  }
  throw new CliError(`The ${name} locker needs a ${name} store; this store is ${connection.backend}`, EXIT.usage);
}

/** The URL without the command's own parameters, as the driver should see it. */
function driverUrl(url: URL): string {
  const copy = new URL(url.href);
  for (const name of PART_PARAMETERS) copy.searchParams.delete(name);
  return copy.href;
}

function schemaOf(url: URL): 'recommended' | 'perl' | undefined {
  const schema = url.searchParams.get('schema');
  if (schema === null) return undefined;
  if (schema !== 'recommended' && schema !== 'perl') throw new CliError(`?schema= must be recommended or perl, got "${schema}"`, EXIT.usage);
  return schema;
}

async function connect(backend: Backend, url: URL): Promise<Connection> {
  switch (backend) {
    case 'file': return fileConnection(url);
    case 'mysql': return mysqlConnection(url);
    case 'postgres': return postgresConnection(url);
    case 'redis': return redisConnection(url);
  }
}

async function fileConnection(url: URL): Promise<Connection> {
  if (url.host !== '' && url.host !== 'localhost') throw new CliError(`A file store URL names a local directory (file:///path), not the host ${url.host}`, EXIT.unknownStore);
  const directory = fileURLToPath(url);
  const { fileStore } = await import('@tied/stores/file');
  const { fileLocker } = await import('@tied/lockers/file');
  return {
    backend: 'file',
    store: () => fileStore({ directory }),
    locker: () => fileLocker({ lockDirectory: url.searchParams.get('lockDirectory') ?? directory }),
    close: async () => {},
  };
}

async function mysqlConnection(url: URL): Promise<Connection> {
  const mysql = (await import('mysql2')).default;
  const { mysqlStore } = await import('@tied/stores/mysql');
  const { mysqlLocker } = await import('@tied/lockers/mysql');
  // One pool of our own: its timeouts fit a command (fail fast), and the store and locker share it.
  const pool = mysql.createPool({ uri: driverUrl(url), multipleStatements: true, connectTimeout: CONNECT_TIMEOUT_MS, connectionLimit: 8 });
  const table = url.searchParams.get('table') ?? undefined;
  const schema = schemaOf(url);
  return {
    backend: 'mysql',
    store: () => mysqlStore({ pool, table, schema }),
    locker: () => mysqlLocker({ pool }),
    close: () => new Promise<void>((resolve) => pool.end(() => resolve())),
  };
}

async function postgresConnection(url: URL): Promise<Connection> {
  const pg = (await import('pg')).default;
  const { postgresStore } = await import('@tied/stores/postgres');
  const { postgresLocker } = await import('@tied/lockers/postgres');
  const pool = new pg.Pool({ connectionString: driverUrl(url), connectionTimeoutMillis: CONNECT_TIMEOUT_MS, max: 8 });
  // An idle client's error (the server went away) must not crash the command; the next query reports it.
  pool.on('error', () => {});
  const table = url.searchParams.get('table') ?? undefined;
  const schema = schemaOf(url);
  return {
    backend: 'postgres',
    store: () => postgresStore({ pool, table, schema }),
    locker: () => postgresLocker({ pool }),
    close: () => pool.end(),
  };
}

async function redisConnection(url: URL): Promise<Connection> {
  const { Redis } = await import('ioredis');
  const { redisStore } = await import('@tied/stores/redis');
  const { redisLocker } = await import('@tied/lockers/redis');
  const prefix = url.searchParams.get('prefix') ?? undefined;
  // No reconnection loop: a command reports an unreachable server instead of retrying forever.
  const client = new Redis(driverUrl(url), {
    lazyConnect: true, connectTimeout: CONNECT_TIMEOUT_MS, maxRetriesPerRequest: 0, retryStrategy: () => null,
  });
  // Errors reach the command through the rejected commands; this keeps them from crashing it.
  client.on('error', () => {});
  return {
    backend: 'redis',
    store: () => redisStore({ client, prefix }),
    locker: () => redisLocker({ client, prefix }),
    close: async () => { client.disconnect(); },
  };
}
