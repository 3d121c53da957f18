import { afterAll, describe, expect } from '@jest/globals';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { testOrSkip } from '@tied/conformance/jest';
import { LockTimeoutError, type Lock } from '@tied/core';
import { redisLocker, type RedisLockerOptions } from '@tied/lockers/redis';
import { REDIS_URL, freshPrefix, redisClient, redisUnavailable, removeKeys } from '../../stores/test/fixtures/redis-kit.js';

const skip = await redisUnavailable();
const it = testOrSkip(skip);

const prefix = freshPrefix('lease');
const admin = redisClient();
const closers: (() => Promise<void>)[] = [];
const freshId = () => `lease-${Math.random().toString(36).slice(2)}`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A locker on a connection of its own: what another process would have. */
function locker(options: Partial<RedisLockerOptions> = {}) {
  const made = redisLocker({ url: REDIS_URL, prefix, ...options });
  closers.push(() => made.close!());
  return made;
}

afterAll(async () => {
  for (const close of closers) await close();
  if (!skip) await removeKeys(admin, prefix);
  admin.disconnect();
});

describe('leases in Redis', () => {
  it('two lockers on two connections exclude each other (Redis decides, not this process)', async () => {
    const [a, b] = [locker(), locker()];
    const id = freshId();
    const held = await a.acquire(id, 'write');
    await expect(b.acquire(id, 'read', { timeout: 200 })).rejects.toBeInstanceOf(LockTimeoutError);
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('gave up')), 50);
    await expect(b.acquire(id, 'write', { signal: controller.signal })).rejects.toThrow('gave up');
    const waiting = b.acquire(id, 'write', { timeout: 2000 });
    await sleep(50);
    await held.release();
    await (await waiting).release();
  });

  it('a holder renews its lease: held for several leases, it still excludes', async () => {
    const [a, b] = [locker({ lease: 200 }), locker()];
    const id = freshId();
    const held = await a.acquire(id, 'write');
    await sleep(700);
    expect(await admin.pttl(`${prefix}lock:{${id}}`)).toBeGreaterThan(0);
    await expect(b.acquire(id, 'write', { timeout: 100 })).rejects.toBeInstanceOf(LockTimeoutError);
    await held.release();
    expect(await admin.exists(`${prefix}lock:{${id}}`)).toBe(0);
  });

  it('release is compare-and-delete: an expired holder does not free the next holder\'s lock', async () => {
    const [a, b, c] = [locker(), locker(), locker()];
    const id = freshId();
    const stale = await a.acquire(id, 'write');
    await admin.del(`${prefix}lock:{${id}}`); // a's lease ran out
    const current: Lock = await b.acquire(id, 'write', { timeout: 1000 });
    await stale.release();
    await expect(c.acquire(id, 'write', { timeout: 150 })).rejects.toBeInstanceOf(LockTimeoutError);
    await current.release();
    await (await c.acquire(id, 'write', { timeout: 1000 })).release();
  });

  it('a holder SIGKILLed loses the lock when its lease ends', async () => {
    const id = freshId();
    const fixture = fileURLToPath(new URL('./fixtures/redis-hold.mjs', import.meta.url));
    const child = spawn(process.execPath, [fixture, REDIS_URL, prefix, id, '500'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = once(child, 'exit');
    try {
      const [line] = await once(child.stdout, 'data');
      expect(String(line)).toBe('held\n');
      const waiter = locker();
      // Alive, it renews: still held after two of its leases.
      await sleep(1000);
      await expect(waiter.acquire(id, 'write', { timeout: 100 })).rejects.toBeInstanceOf(LockTimeoutError);
      child.kill('SIGKILL');
      await exited;
      const lock = await waiter.acquire(id, 'write', { timeout: 3000 });
      await lock.release();
    } finally {
      child.kill('SIGKILL');
    }
  });
});

describe('options', () => {
  it('refuse what cannot work, with a message that says why', () => {
    expect(() => redisLocker({ url: REDIS_URL, lease: 50 })).toThrow(/lease must be an integer of at least 100 ms/);
    expect(() => redisLocker({ url: REDIS_URL, prefix: 'app:{x}:' })).toThrow(/prefix must be a string without \{ or \}/);
    expect(() => redisLocker({})).toThrow(/needs a client .* or a url/);
    expect(() => redisLocker({ url: REDIS_URL, leese: 500 } as never)).toThrow(/unknown option leese; the options are client, url, prefix, lease/);
    const client = redisClient({ keyPrefix: 'app:' });
    expect(() => redisLocker({ client })).toThrow(/keyPrefix/);
    expect(() => redisLocker({ client, url: REDIS_URL })).toThrow(/either client or url/);
    client.disconnect();
  });
});
