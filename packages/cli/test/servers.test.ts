/**
 * The command on the real MariaDB, PostgreSQL and Redis: every subcommand on each, errors that only
 * servers have, and export → import between different backends. Tables cli_… and keys cli:… are this
 * file's own.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2';
import pg from 'pg';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect } from '@jest/globals';
import { serviceUnavailable, testOrSkip } from '@tied/conformance/jest';
import { defineSession, type Flavor } from '@tied/core';
import { nanoid } from '@tied/generators';
import { superjson } from '@tied/serializers';
import { mysqlLocker } from '@tied/lockers/mysql';
import { postgresLocker } from '@tied/lockers/postgres';
import { redisLocker } from '@tied/lockers/redis';
import { mysqlStore } from '@tied/stores/mysql';
import { postgresStore } from '@tied/stores/postgres';
import { redisStore } from '@tied/stores/redis';
import { jsonLines, runTied } from './run-tied.js';

const mysqlPool = mysql.createPool({ host: '127.0.0.1', user: 'root', database: 'test', multipleStatements: true, connectionLimit: 4 });
const pgPool = new pg.Pool({ host: '127.0.0.1', user: 'postgres', database: 'test', max: 4 });
pgPool.on('error', () => {});
const redis = new Redis({ host: '127.0.0.1', port: 6379, lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
redis.on('error', () => {});

const skipMysql = await serviceUnavailable('MariaDB at 127.0.0.1:3306', () => mysqlPool.promise().query('SELECT 1'));
const skipPostgres = await serviceUnavailable('PostgreSQL at 127.0.0.1:5432', () => pgPool.query('SELECT 1'));
const skipRedis = await serviceUnavailable('Redis at 127.0.0.1:6379', () => redis.ping());

const DAY = 86_400_000;
const REDIS_PREFIX = 'cli:servers:';

interface Backend {
  name: string;
  skip: string | undefined;
  url: string;
  /** The same store through tied's library, to write and read real values. */
  flavor: () => Flavor;
  /** Makes the session look last saved `ageMs` ago. */
  age(id: string, ageMs: number): Promise<void>;
  clear(): Promise<void>;
}

const parts = { generator: nanoid(), serializer: superjson() };
const backends: Backend[] = [
  {
    name: 'MariaDB',
    skip: skipMysql,
    url: 'mysql://root@127.0.0.1:3306/test?table=cli_sessions',
    flavor: () => defineSession({ ...parts, store: mysqlStore({ pool: mysqlPool, table: 'cli_sessions' }), locker: mysqlLocker({ pool: mysqlPool }) }),
    age: async (id, ageMs) => { await mysqlPool.promise().query('UPDATE cli_sessions SET updated_at = NOW(3) - INTERVAL ? SECOND WHERE id = ?', [Math.round(ageMs / 1000), id]); },
    clear: async () => { await mysqlPool.promise().query('DELETE FROM cli_sessions'); },
  },
  {
    name: 'PostgreSQL',
    skip: skipPostgres,
    url: 'postgresql://postgres@127.0.0.1:5432/test?table=cli_sessions',
    flavor: () => defineSession({ ...parts, store: postgresStore({ pool: pgPool, table: 'cli_sessions' }), locker: postgresLocker({ pool: pgPool }) }),
    age: async (id, ageMs) => { await pgPool.query("UPDATE cli_sessions SET updated_at = now() - $1 * interval '1 millisecond' WHERE id = $2", [ageMs, id]); },
    clear: async () => { await pgPool.query('DELETE FROM cli_sessions'); },
  },
  {
    name: 'Redis',
    skip: skipRedis,
    url: `redis://127.0.0.1:6379/0?prefix=${REDIS_PREFIX}`,
    flavor: () => defineSession({ ...parts, store: redisStore({ client: redis, prefix: REDIS_PREFIX }), locker: redisLocker({ client: redis, prefix: REDIS_PREFIX }) }),
    // The store keeps the time of the last write in the hash's t field.
    age: async (id, ageMs) => { await redis.hset(`${REDIS_PREFIX}{${id}}`, 't', String(Date.now() - ageMs)); },
    clear: async () => {
      const keys = await redis.keys(`${REDIS_PREFIX}*`);
      if (keys.length > 0) await redis.del(...keys);
    },
  },
];

const root = mkdtempSync(join(tmpdir(), 'cli-servers-'));

beforeAll(async () => {
  if (skipMysql === undefined) {
    await mysqlPool.promise().query('DROP TABLE IF EXISTS cli_sessions, cli_perl_schema');
    await mysqlStore({ pool: mysqlPool, table: 'cli_sessions' }).createTable();
    await mysqlStore({ pool: mysqlPool, table: 'cli_perl_schema', schema: 'perl' }).createTable();
  }
  if (skipPostgres === undefined) {
    await pgPool.query('DROP TABLE IF EXISTS cli_sessions');
    await postgresStore({ pool: pgPool, table: 'cli_sessions' }).createTable();
  }
  if (skipRedis === undefined) await backends[2]!.clear();
});

afterAll(async () => {
  if (skipMysql === undefined) await mysqlPool.promise().query('DROP TABLE IF EXISTS cli_sessions, cli_perl_schema');
  if (skipPostgres === undefined) await pgPool.query('DROP TABLE IF EXISTS cli_sessions');
  if (skipRedis === undefined) await backends[2]!.clear();
  await new Promise((resolve) => mysqlPool.end(resolve));
  await pgPool.end();
  redis.disconnect();
  rmSync(root, { recursive: true, force: true });
});

/** A session with values JSON cannot hold, in superjson's export form. */
const RICH_LINE = JSON.stringify({
  id: 'richrichrichrichrich1',
  data: {
    json: { when: '2026-01-02T03:04:05.678Z', prefs: [['theme', 'dark'], ['size', 3]], nested: { at: '2025-12-31T23:59:59.000Z', tags: ['a'] }, big: '9007199254740993' },
    meta: { values: { when: ['Date'], prefs: ['map'], 'nested.at': ['Date'], 'nested.tags': ['set'], big: ['bigint'] } },
  },
});

function expectRich(data: Record<string, unknown>): void {
  expect(data.when).toEqual(new Date('2026-01-02T03:04:05.678Z'));
  expect(data.prefs).toEqual(new Map<string, unknown>([['theme', 'dark'], ['size', 3]]));
  expect(data.nested).toEqual({ at: new Date('2025-12-31T23:59:59.000Z'), tags: new Set(['a']) });
  expect(data.big).toBe(9007199254740993n);
}

describe.each(backends)('tied on $name', (backend) => {
  const it = testOrSkip(backend.skip);
  const tied = (...args: string[]) => runTied(['--store', backend.url, ...args]);

  it('new, show, get, set, unset, ls, stats, rm', async () => {
    await backend.clear();
    const id = (await tied('new', '--set', 'user.name="Ann"', '--set', 'visits=1')).stdout.trim();
    expect(id).toMatch(/^[A-Za-z0-9_-]{21}$/);
    expect((await tied('set', id, 'user.roles', '["admin"]')).code).toBe(0);
    expect((await tied('set', id, 'visits', '2')).code).toBe(0);
    expect((await tied('get', id, 'user')).stdout).toBe('{"name":"Ann","roles":["admin"]}\n');
    expect((await tied('unset', id, 'user.name')).code).toBe(0);
    expect(JSON.parse((await tied('show', id, '--json')).stdout)).toMatchObject({ user: { roles: ['admin'] }, visits: 2 });

    const other = (await tied('new')).stdout.trim();
    await backend.age(id, DAY);
    expect(jsonLines((await tied('ls', '--json')).stdout).map((entry) => entry.id)).toEqual([other, id]);
    expect(jsonLines((await tied('ls', '--json', '--older-than', '12h')).stdout).map((entry) => entry.id)).toEqual([id]);
    const stats = JSON.parse((await tied('stats', '--json')).stdout) as Record<string, any>;
    expect(stats).toMatchObject({ count: 2, oldest: { id }, newest: { id: other } });

    expect((await tied('rm', id, other)).code).toBe(0);
    expect(await tied('show', id)).toMatchObject({ code: 5, stderr: `tied: Object does not exist in the data store: ${id}\n` });
    expect(JSON.parse((await tied('stats', '--json')).stdout)).toMatchObject({ count: 0 });
  });

  it('purge: --dry-run changes nothing, then only the old sessions go; clean-locks is not for this locker (exit 9)', async () => {
    await backend.clear();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await tied('new', '--set', `i=${i}`)).stdout.trim());
    for (const id of ids.slice(0, 3)) await backend.age(id, 31 * DAY);
    expect(JSON.parse((await tied('purge', '--older-than', '30d', '--dry-run', '--json')).stdout)).toMatchObject({ purged: 3, dryRun: true });
    expect(JSON.parse((await tied('stats', '--json')).stdout)).toMatchObject({ count: 5 });
    expect(await tied('purge', '--older-than', '30d', '--batch-size', '2')).toMatchObject({ code: 0, stdout: 'purged 3 sessions not saved for 4w2d\n' });
    expect(jsonLines((await tied('ls', '--json')).stdout).map((entry) => entry.id).sort()).toEqual(ids.slice(3).sort());

    const clean = await tied('clean-locks', '--older-than', '1h');
    expect(clean.code).toBe(9);
    expect(clean.stderr).toMatch(/^tied: The \w+ locker doesn't support clean-locks: it keeps no lock files/);
  });

  it('export → import from a file store and back preserves Dates, Maps, Sets and BigInts', async () => {
    await backend.clear();
    const file = `file://${join(root, `from-${backend.name}`)}`;
    expect((await runTied(['--store', file, 'import'], { input: RICH_LINE + '\n' })).code).toBe(0);
    const fromFile = await runTied(['--store', file, 'export']);
    expect(await runTied(['--store', backend.url, 'import'], { input: fromFile.stdout })).toMatchObject({ code: 0, stdout: 'imported 1 session (0 overwritten, 0 skipped as existing)\n' });

    // Read back through tied's library, not the command.
    const flavor = backend.flavor();
    await flavor.with('richrichrichrichrich1', (session) => expectRich(session), { readonly: true });

    const back = `file://${join(root, `back-${backend.name}`)}`;
    const exported = await tied('export');
    expect(exported.code).toBe(0);
    expect(await runTied(['--store', back, 'import'], { input: exported.stdout })).toMatchObject({ code: 0 });
    expect((await runTied(['--store', back, 'show', 'richrichrichrichrich1'])).stdout).toBe((await runTied(['--store', file, 'show', 'richrichrichrichrich1'])).stdout);
  });
});

describe('tied between servers', () => {
  const it = testOrSkip(skipMysql ?? skipPostgres ?? skipRedis);

  it('export | import: MariaDB → Redis → PostgreSQL keeps every session whole', async () => {
    for (const backend of backends) await backend.clear();
    const [mariadb, postgres, redisBackend] = backends as [Backend, Backend, Backend];
    const lines = [RICH_LINE];
    for (let i = 0; i < 50; i++) lines.push(JSON.stringify({ id: `plain${String(i).padStart(16, '0')}`, data: { json: { i, name: `user ${i}`, list: [i, `${i}`] } } }));
    expect((await runTied(['--store', mariadb.url, 'import'], { input: lines.join('\n') + '\n' })).stdout).toBe('imported 51 sessions (0 overwritten, 0 skipped as existing)\n');

    const fromMysql = await runTied(['--store', mariadb.url, 'export']);
    expect(fromMysql).toMatchObject({ code: 0, stderr: 'exported 51 sessions\n' });
    expect((await runTied(['--store', redisBackend.url, 'import'], { input: fromMysql.stdout })).code).toBe(0);
    const fromRedis = await runTied(['--store', redisBackend.url, 'export']);
    expect((await runTied(['--store', postgres.url, 'import'], { input: fromRedis.stdout })).code).toBe(0);

    const byId = (text: string) => new Map(jsonLines(text).map((line) => [line.id, line.data]));
    const exportedFromPostgres = byId((await runTied(['--store', postgres.url, 'export'])).stdout);
    expect(exportedFromPostgres).toEqual(byId(fromMysql.stdout));
    await postgres.flavor().with('richrichrichrichrich1', (session) => expectRich(session), { readonly: true });
    await postgres.flavor().with('plain0000000000000007', (session) => expect({ ...session }).toEqual({ _session_id: 'plain0000000000000007', i: 7, name: 'user 7', list: [7, '7'] }), { readonly: true });
  });
});

describe('tied: server errors', () => {
  it_('a wrong password is reported (exit 4) without the password, with or without --verbose', skipMysql, async () => {
    for (const verbose of [[], ['--verbose']]) {
      const result = await runTied(['--store', 'mysql://root:Sup3r-s3cret@127.0.0.1:3306/test?table=cli_sessions', ...verbose, 'ls']);
      expect(result.code).toBe(4);
      expect(result.stderr).toMatch(/^tied: Cannot reach the store mysql:\/\/root:\*\*\*@127\.0\.0\.1:3306\/test\?table=cli_sessions: Access denied for user 'root'@/);
      expect(result.stdout + result.stderr).not.toContain('Sup3r-s3cret');
      // --verbose adds the driver's error as the cause.
      if (verbose.length > 0) expect(result.stderr).toMatch(/^  caused by: Access denied for user 'root'@/m);
    }
  });

  it_("a server that is not there: exit 4, the URL's password masked", undefined, async () => {
    for (const url of ['mysql://root:Sup3r-s3cret@127.0.0.1:1/test', 'postgres://postgres:Sup3r-s3cret@127.0.0.1:1/test', 'redis://:Sup3r-s3cret@127.0.0.1:1/0']) {
      const result = await runTied(['--store', url, '--verbose', 'stats']);
      expect(result.code).toBe(4);
      expect(result.stderr).toMatch(/^tied: Cannot reach the store \w+:\/\/\w*:\*\*\*@127\.0\.0\.1:1\/\w+: /);
      expect(result.stdout + result.stderr).not.toContain('Sup3r-s3cret');
    }
  });

  it_("Perl's schema has no updated_at: purge says the store doesn't support it (exit 9)", skipMysql, async () => {
    const result = await runTied(['--store', 'mysql://root@127.0.0.1/test?table=cli_perl_schema&schema=perl', '--generator', 'md5', 'purge', '--older-than', '30d']);
    expect(result).toMatchObject({ code: 9, stderr: "tied: The mysql store doesn't support purge: it keeps no time of last save (Perl's schema)\n" });
    const ls = await runTied(['--store', 'mysql://root@127.0.0.1/test?table=cli_perl_schema&schema=perl', 'ls', '--older-than', '1d']);
    expect(ls.code).toBe(9);
  });

  it_('a session held by another client: lock timeout (exit 8)', skipRedis, async () => {
    const redisBackend = backends[2]!;
    const id = (await runTied(['--store', redisBackend.url, 'new'])).stdout.trim();
    const session = await redisBackend.flavor().open(id);
    try {
      const result = await runTied(['--store', redisBackend.url, '--lock-timeout', '200ms', 'set', id, 'a', '1']);
      expect(result).toMatchObject({ code: 8, stderr: `tied: Timed out after 200 ms waiting for the lock of session ${id}\n` });
    } finally {
      await (await import('@tied/core')).tied(session).release();
    }
  });
});

/** A test that skips visibly when its server is unreachable. */
function it_(name: string, skip: string | undefined, fn: () => Promise<void>): void {
  testOrSkip(skip)(name, fn);
}
