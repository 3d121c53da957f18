import { afterAll, describe, expect } from '@jest/globals';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { lockerSuite, storeSuite, testOrSkip } from '@tied/conformance/jest';
import { redisLocker } from '@tied/lockers/redis';
import { redisStore } from '@tied/stores/redis';
import { RedisSession, tied } from 'tied';
import { REDIS_URL, freshPrefix, redisClient, redisUnavailable, removeKeys } from './fixtures/redis-kit.js';

// ioredis with enableAutoPipelining (a common production setting) loses the command name of
// callBuffer (ioredis issue #1923): the Redis parts must work on such a client all the same.

const skip = await redisUnavailable();
const it = testOrSkip(skip);
const admin = redisClient();
const client = redisClient({ enableAutoPipelining: true });
const prefixes: string[] = [];
const prefix = (name: string) => {
  const made = freshPrefix(`autopipe-${name}`);
  prefixes.push(made);
  return made;
};

afterAll(async () => {
  if (!skip) for (const p of prefixes) await removeKeys(admin, p);
  admin.disconnect();
  client.disconnect();
});

storeSuite({ name: 'redisStore on an autopipelining client', skip, factory: () => redisStore({ client, prefix: prefix('store'), maxPayloadBytes: 2 * 1024 * 1024 }) });
const fusedPrefix = prefix('fused');
lockerSuite({
  name: 'redisLocker on an autopipelining client, fused with redisStore',
  skip,
  factory: () => redisLocker({ client, prefix: fusedPrefix }),
  store: () => redisStore({ client, prefix: fusedPrefix }),
});

describe('RedisSession on autopipelining clients', () => {
  it('4 processes × 250 increments of one session end at exactly 1000', async () => {
    const sessions = prefix('session');
    const created = await RedisSession.open<{ count: number }>(undefined, { client, prefix: sessions });
    created.count = 0;
    await tied(created).release();
    const id = tied(created).id;
    const fixture = fileURLToPath(new URL('./fixtures/redis-increment.mjs', import.meta.url));
    const children = Array.from({ length: 4 }, () =>
      spawn(process.execPath, [fixture, REDIS_URL, sessions, id, '250', 'autopipelining'], { stdio: ['ignore', 'inherit', 'inherit'] }));
    const codes = await Promise.all(children.map(async (child) => (await once(child, 'exit'))[0]));
    expect(codes).toEqual([0, 0, 0, 0]);
    const final = await RedisSession.open<{ count: number }>(id, { client, prefix: sessions, readonly: true });
    expect(final.count).toBe(1000);
    await tied(final).release();
  });
});
