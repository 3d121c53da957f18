import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2';
import pg from 'pg';
import { Redis } from 'ioredis';
import { serviceUnavailable } from '@tied/conformance/jest';
import { defineSession, type Flavor } from '@tied/core';
import { nanoid } from '@tied/generators';
import { fileLocker } from '@tied/lockers/file';
import { superjson } from '@tied/serializers';
import { fileStore } from '@tied/stores/file';
import { MemorySession, MySQLSession, PostgresSession, RedisSession } from 'tied';

/** A flavor under test, its skip reason when its server is unreachable, and a look into its store. */
export interface FlavorUnderTest {
  name: string;
  skip: string | undefined;
  flavor: () => Flavor;
  /** The ids in the store now. */
  storedIds(): Promise<string[]>;
  close(): Promise<void>;
}

async function idsOf(flavor: Flavor): Promise<string[]> {
  const ids: string[] = [];
  for await (const entry of flavor.parts.store.list!()) ids.push(entry.id);
  return ids;
}

/** Built lazily per test file, so that a file only connects to the servers it uses. */
export function memoryFlavor(): FlavorUnderTest {
  return { name: 'memory', skip: undefined, flavor: () => MemorySession, storedIds: () => idsOf(MemorySession), close: async () => {} };
}

/** A FileSession-like flavor in a temporary directory; `lockFiles()` lists its lock directory. */
export function fileFlavor(): FlavorUnderTest & { directory: string; lockFiles(): string[] } {
  const directory = mkdtempSync(join(tmpdir(), 'http-sessions-'));
  const flavor = defineSession({
    store: fileStore({ directory: join(directory, 'sessions') }),
    locker: fileLocker({ lockDirectory: join(directory, 'locks') }),
    generator: nanoid(),
    serializer: superjson(),
  });
  const list = (folder: string) => { try { return readdirSync(join(directory, folder)); } catch { return []; } };
  return {
    name: 'file',
    skip: undefined,
    directory,
    flavor: () => flavor,
    storedIds: async () => list('sessions'),
    lockFiles: () => list('locks'),
    close: async () => { await flavor.close(); rmSync(directory, { recursive: true, force: true }); },
  };
}

const MYSQL = { host: '127.0.0.1', port: 3306, user: 'root', database: 'test' };
const POSTGRES = { host: '127.0.0.1', port: 5432, user: 'postgres', database: 'test' };

export async function mysqlFlavor(): Promise<FlavorUnderTest> {
  // One connection per held GET_LOCK plus the store's: enough for the 50-request test to take turns.
  const pool = mysql.createPool({ ...MYSQL, multipleStatements: true, connectionLimit: 12 });
  const skip = await serviceUnavailable('MariaDB at 127.0.0.1:3306', () => pool.promise().query('SELECT 1'));
  const flavor = skip ? undefined : await MySQLSession.flavor({ pool, table: 'http_sessions', createTable: true });
  return {
    name: 'mysql',
    skip,
    flavor: () => flavor!,
    storedIds: () => idsOf(flavor!),
    close: async () => { await new Promise<void>((resolve) => pool.end(() => resolve())); },
  };
}

export async function postgresFlavor(): Promise<FlavorUnderTest> {
  const pool = new pg.Pool({ ...POSTGRES, max: 12 });
  pool.on('error', () => {});
  const skip = await serviceUnavailable('PostgreSQL at 127.0.0.1:5432', () => pool.query('SELECT 1'));
  const flavor = skip ? undefined : await PostgresSession.flavor({ pool, table: 'http_sessions', createTable: true });
  return {
    name: 'postgres',
    skip,
    flavor: () => flavor!,
    storedIds: () => idsOf(flavor!),
    close: () => pool.end(),
  };
}

export async function redisFlavor(): Promise<FlavorUnderTest> {
  const client = new Redis({ host: '127.0.0.1', port: 6379, lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
  client.on('error', () => {});
  const skip = await serviceUnavailable('Redis at 127.0.0.1:6379', () => client.connect());
  const flavor = skip ? undefined : await RedisSession.flavor({ client, prefix: 'http:' });
  return {
    name: 'redis',
    skip,
    flavor: () => flavor!,
    storedIds: () => idsOf(flavor!),
    close: async () => { client.disconnect(); },
  };
}
