import { afterAll, describe, expect } from '@jest/globals';
import { testOrSkip } from '@tied/conformance/jest';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { RedisSession, openSession, tied } from 'tied';
import { REDIS_URL, freshPrefix, redisClient, redisUnavailable, removeKeys } from './fixtures/redis-kit.js';

const skip = await redisUnavailable();
const it = testOrSkip(skip);

const prefix = freshPrefix('session');
const client = redisClient();

afterAll(async () => {
  if (!skip) await removeKeys(client, prefix);
  client.disconnect();
});

describe('RedisSession and the Flex name Redis', () => {
  it('RedisSession keeps sessions in Redis with nanoid ids and superjson, one flavor per client', async () => {
    const session = await RedisSession.open<{ when: Date; tags: Set<string> }>(undefined, { client, prefix });
    const id = session._session_id;
    expect(id).toMatch(/^[A-Za-z0-9_-]{21}$/);
    session.when = new Date(0);
    session.tags = new Set(['a']);
    await tied(session)!.release();
    const again = await RedisSession.open<{ when: Date; tags: Set<string> }>(id, { client, prefix, readonly: true });
    expect(again.when).toEqual(new Date(0));
    expect(again.tags).toEqual(new Set(['a']));
    await tied(again)!.release();
    expect(await RedisSession.flavor({ client, prefix })).toBe(await RedisSession.flavor({ client, prefix }));
    expect(await RedisSession.flavor({ client, prefix })).not.toBe(await RedisSession.flavor({ client: redisClient(), prefix }));
  });

  it('openSession with store Redis (any case) opens the same sessions; the lock defaults to Redis', async () => {
    const session = await RedisSession.open<{ n: number }>(undefined, { client, prefix });
    session.n = 1;
    await tied(session)!.release();
    const flex = await openSession<{ n: number }>(tied(session)!.id, { store: 'redis', client, prefix });
    expect(flex.n).toBe(1);
    expect((await RedisSession.flavor({ client, prefix })).parts.locker.name).toBe('redis');
    await tied(flex)!.release();
  });

  it('with a url, the store and the locker connect on their own and still fuse; close() quits them', async () => {
    const flavor = await RedisSession.flavor({ url: REDIS_URL, prefix });
    expect(flavor.parts.store.fuse!(flavor.parts.locker)).toBeDefined();
    const session = await RedisSession.open<{ n: number }>(undefined, { url: REDIS_URL, prefix });
    session.n = 2;
    await tied(session)!.release();
    await flavor.close();
  });
});

describe('4 processes × 250 increments of one session', () => {
  it('end at exactly 1000', async () => {
    const created = await RedisSession.open<{ count: number }>(undefined, { client, prefix });
    created.count = 0;
    await tied(created)!.release();
    const id = tied(created)!.id;
    const fixture = fileURLToPath(new URL('./fixtures/redis-increment.mjs', import.meta.url));
    const children = Array.from({ length: 4 }, () => spawn(process.execPath, [fixture, REDIS_URL, prefix, id, '250'], { stdio: ['ignore', 'inherit', 'inherit'] }));
    const codes = await Promise.all(children.map(async (child) => (await once(child, 'exit'))[0]));
    expect(codes).toEqual([0, 0, 0, 0]);
    const final = await RedisSession.open<{ count: number }>(id, { client, prefix, readonly: true });
    expect(final.count).toBe(1000);
    await tied(final)!.release();
  });
});
