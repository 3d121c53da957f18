/**
 * A Perl application's MySQL store moved to Redis with two runs of the command:
 * `tied export --serializer storable --generator md5 | tied import --generator md5`,
 * then read back by tied's library.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import mysql from 'mysql2';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect } from '@jest/globals';
import { serviceUnavailable, testOrSkip } from '@tied/conformance/jest';
import { defineSession } from '@tied/core';
import { hex } from '@tied/generators';
import { superjson } from '@tied/serializers';
import { redisLocker } from '@tied/lockers/redis';
import { redisStore } from '@tied/stores/redis';
import { jsonLines, runTied } from './run-tied.js';

const run = promisify(execFile);
const TABLE = 'cli_perl_sessions';
const PREFIX = 'cli:perl:';
const SESSIONS = 5;

const pool = mysql.createPool({ host: '127.0.0.1', user: 'root', database: 'test', connectionLimit: 2 });
const redis = new Redis({ host: '127.0.0.1', port: 6379, lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
redis.on('error', () => {});

const skip = await serviceUnavailable('MariaDB at 127.0.0.1:3306', () => pool.promise().query('SELECT 1'))
  ?? await serviceUnavailable('Redis at 127.0.0.1:6379', () => redis.ping())
  ?? await serviceUnavailable('Perl Apache::Session::MySQL + DBD::mysql', async () => {
    try {
      await run('perl', ['-MApache::Session::MySQL', '-MDBD::mysql', '-e1']);
    } catch (error) {
      throw new Error((error as { stderr?: string }).stderr?.split('\n')[0]?.replace(/ \(@INC contains.*$/, '') || (error as Error).message);
    }
  });

async function clearRedis(): Promise<void> {
  const keys = await redis.keys(`${PREFIX}*`);
  if (keys.length > 0) await redis.del(...keys);
}

beforeAll(async () => {
  if (skip !== undefined) return;
  await pool.promise().query(`DROP TABLE IF EXISTS ${TABLE}`);
  // Apache::Session::Store::MySQL's documented table.
  await pool.promise().query(`CREATE TABLE ${TABLE} (id char(32) not null primary key, a_session blob)`);
  await clearRedis();
});

afterAll(async () => {
  if (skip === undefined) {
    await pool.promise().query(`DROP TABLE IF EXISTS ${TABLE}`);
    await clearRedis();
  }
  await new Promise((resolve) => pool.end(resolve));
  redis.disconnect();
});

describe("a Perl Apache::Session::MySQL store through the command", () => {
  const it = testOrSkip(skip);

  it('is exported with --serializer storable --generator md5, imported into Redis, and read back by tied', async () => {
    const script = fileURLToPath(new URL('./perl/create-sessions.pl', import.meta.url));
    const { stdout } = await run('perl', [script, TABLE, String(SESSIONS)], { timeout: 30_000 });
    const ids = stdout.trim().split('\n');
    expect(ids).toHaveLength(SESSIONS);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{32}$/);

    const perlStore = ['--store', `mysql://root@127.0.0.1:3306/test?table=${TABLE}&schema=perl`, '--serializer', 'storable', '--generator', 'md5'];
    // Without the Perl parts: the default nanoid generator refuses Perl's ids, superjson its Storable bytes.
    expect((await runTied([...perlStore.slice(0, 2), 'show', ids[0]!])).code).toBe(6);
    expect((await runTied([...perlStore.slice(0, 2), '--generator', 'md5', 'show', ids[0]!])).code).toBe(7);
    expect(JSON.parse((await runTied([...perlStore, 'show', ids[0]!, '--json'])).stdout)).toEqual({
      user: { name: 'Ann 1', roles: ['admin', 'editor'], city: 'Zürich', zip: '8001' }, visits: 1, cart: [{ sku: 'a1', qty: 2 }, null],
    });

    const withoutGenerator = await runTied([...perlStore.slice(0, 4), 'export']);
    expect(withoutGenerator.code).toBe(6);
    expect(withoutGenerator.stderr).toMatch(/^tied: Invalid session id for nanoid: .*; the store holds ids the nanoid generator does not make: pass --generator \(md5 for Perl's\)\n$/);

    const exported = await runTied([...perlStore, 'export']);
    expect(exported).toMatchObject({ code: 0, stderr: `exported ${SESSIONS} sessions\n` });
    expect(jsonLines(exported.stdout).map((line) => line.id).sort()).toEqual([...ids].sort());
    // Perl's schema keeps no time of the last save.
    for (const line of jsonLines(exported.stdout)) expect(line.updatedAt).toBeUndefined();

    const redisUrl = `redis://127.0.0.1:6379/0?prefix=${PREFIX}&generator=md5`;
    expect(await runTied(['--store', redisUrl, 'import'], { input: exported.stdout })).toMatchObject({ code: 0, stdout: `imported ${SESSIONS} sessions (0 overwritten, 0 skipped as existing)\n` });

    const flavor = defineSession({
      store: redisStore({ client: redis, prefix: PREFIX }), locker: redisLocker({ client: redis, prefix: PREFIX }), generator: hex({ length: 32 }), serializer: superjson(),
    });
    for (const [index, id] of ids.entries()) {
      await flavor.with(id, (session) => {
        expect({ ...session }).toEqual({
          _session_id: id,
          user: { name: `Ann ${index + 1}`, roles: ['admin', 'editor'], city: 'Zürich', zip: '8001' },
          visits: index + 1,
         
          cart: [{ sku: 'a1', qty: 2 }, null],
        });
      }, { readonly: true });
    }
  });
});
