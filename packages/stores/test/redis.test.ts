import { afterAll, describe, expect, test } from '@jest/globals';
import { accessSuite, storeSuite, testOrSkip } from '@tied/conformance/jest';
import { redisStore } from '@tied/stores/redis';
import { redisLocker } from '@tied/lockers/redis';
import { freshPrefix, redisClient, redisUnavailable, removeKeys } from './fixtures/redis-kit.js';

const skip = await redisUnavailable();
const client = redisClient();
const prefixes: string[] = [];
const prefix = (name: string) => {
  const p = freshPrefix(name);
  prefixes.push(p);
  return p;
};

afterAll(async () => {
  if (!skip) for (const p of prefixes) await removeKeys(client, p);
  client.disconnect();
});

// Payloads above 2 MiB are refused, so the suite's too-large test runs without a 512 MiB string.
storeSuite({ name: 'redisStore', skip, factory: () => redisStore({ client, prefix: prefix('conf'), maxPayloadBytes: 2 * 1024 * 1024 }) });
storeSuite({ name: 'redisStore (url, ttl)', skip, factory: () => redisStore({ url: 'redis://127.0.0.1:6379', prefix: prefix('conf-url'), ttl: 60_000, maxPayloadBytes: 2 * 1024 * 1024 }) });
accessSuite({ name: 'redisStore + redisLocker', skip, factory: () => ({ store: redisStore({ client, prefix: prefix('access'), maxPayloadBytes: 2 * 1024 * 1024 }), locker: redisLocker({ client, prefix: prefix('access-lock') }) }) });

const it = testOrSkip(skip);

describe('redisStore specifics', () => {
  it('list and purge see only this prefix\'s sessions (glob characters in it are literal), never lock keys', async () => {
    const base = prefix('glob');
    const starred = redisStore({ client, prefix: `${base}x*[` });
    const plain = redisStore({ client, prefix: `${base}xy[` });
    await starred.insert('one', 'a');
    await plain.insert('two', 'bb');
    await client.set(`${base}x*[lock:{one}`, 'a lease token');
    const listed = [];
    for await (const info of starred.list!()) listed.push(info);
    expect(listed).toEqual([{ id: 'one', size: 1, updatedAt: expect.any(Number) }]);
    expect(await plain.purge!({ olderThan: -60_000 })).toBe(1);
    expect(Buffer.from((await starred.materialize('one')).data).toString()).toBe('a');
  });

  it('purge counts only what it removed, and spares sessions written since the cutoff', async () => {
    const store = redisStore({ client, prefix: prefix('purge'), ttl: 60_000 });
    await store.insert('old', 'x');
    // Wide margins: a busy machine may take a while between the insert of 'new' and the purge.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    await store.insert('new', 'y');
    expect(await store.purge!({ olderThan: 500 })).toBe(1);
    expect(await store.purge!({ olderThan: 500 })).toBe(0);
    expect((await store.materialize('new')).data.toString()).toBe('y');
  });

  it('refuses options that cannot work', () => {
    expect(() => redisStore({ client, prefix: '{app}:' })).toThrow(TypeError);
    expect(() => redisStore({ client, ttl: 0 })).toThrow(/ttl must be a positive integer/);
    expect(() => redisStore({ client, ttl: 1.5 })).toThrow(RangeError);
    expect(() => redisStore({ client, maxPayloadBytes: 600 * 1024 * 1024 })).toThrow(/maxPayloadBytes/);
    expect(() => redisStore({})).toThrow(/needs a client/);
    expect(() => redisStore(undefined as never)).toThrow(/redisStore needs options: \{ client \} or \{ url \}/);
    expect(() => redisStore({ client, tll: 1000 } as never)).toThrow(/unknown option tll; the options are client, url, prefix, ttl, maxPayloadBytes/);
    expect(() => redisStore({ url: 'http://example.com' })).toThrow(/url must be a redis:\/\/ or rediss:\/\/ URL/);
    expect(() => redisStore({ client: {} as never })).toThrow(/client must be an ioredis Redis or Cluster/);
  });
});
