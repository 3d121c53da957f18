import { afterAll, describe, expect } from '@jest/globals';
import { LockTimeoutError, defineSession, memoryStore, type Lock, type Locker, type Store } from '@tied/core';
import { freshId, rejectionOf, testIf, testOrSkip, type SuiteOptions } from './common.js';

export interface LockerSuiteOptions extends SuiteOptions<Locker> {
  /**
   * The store the 50-increments test keeps its session in. Default: a memory store (the lock alone
   * is under test). Give the store that goes with the locker to also exercise their fused path.
   */
  store?: () => Store;
}

/** How long a test waits to be sure a lock was *not* granted. */
const SHORT = 150;

/** Settles to 'granted' or 'waiting' after `ms`, without giving up the acquire. */
async function stateAfter(acquiring: Promise<Lock>, ms: number): Promise<'granted' | 'waiting'> {
  const timer = new Promise<'waiting'>((resolve) => setTimeout(resolve, ms, 'waiting'));
  return Promise.race([acquiring.then(() => 'granted' as const), timer]);
}

/**
 * The contract every Locker keeps. Exclusion tests run only for lockers that declare `excludes`;
 * shared-read tests only for those that declare `sharedReads`.
 */
export function lockerSuite(options: LockerSuiteOptions): void {
  const { name, skip } = options;
  describe(`${name} (locker conformance)`, () => {
    const locker = skip === undefined ? options.factory() : undefined!;
    const caps = locker?.capabilities ?? { excludes: true, sharedReads: true, crossProcess: true };
    const test = testOrSkip(skip);
    const exclusive = testIf(skip, caps.excludes, 'that it excludes nobody');
    afterAll(async () => {
      await locker?.close?.();
    });

    test('declares its capabilities', () => {
      expect(typeof locker.name).toBe('string');
      for (const key of ['excludes', 'sharedReads', 'crossProcess'] as const) expect(typeof caps[key]).toBe('boolean');
    });

    test('acquire returns a lock for that id and mode; release is idempotent', async () => {
      const id = freshId();
      const lock = await locker.acquire(id, 'write');
      expect(lock.id).toBe(id);
      expect(lock.mode).toBe('write');
      await lock.release();
      await lock.release();
      const again = await locker.acquire(id, 'write', { timeout: 2000 });
      await again.release();
    });

    exclusive('a write lock excludes another write lock until released', async () => {
      const id = freshId();
      const first = await locker.acquire(id, 'write');
      const second = locker.acquire(id, 'write');
      expect(await stateAfter(second, SHORT)).toBe('waiting');
      await first.release();
      await (await second).release();
    });

    exclusive('a write lock excludes a read lock', async () => {
      const id = freshId();
      const writer = await locker.acquire(id, 'write');
      const reader = locker.acquire(id, 'read');
      expect(await stateAfter(reader, SHORT)).toBe('waiting');
      await writer.release();
      await (await reader).release();
    });

    exclusive('a read lock excludes a write lock', async () => {
      const id = freshId();
      const reader = await locker.acquire(id, 'read');
      const writer = locker.acquire(id, 'write');
      expect(await stateAfter(writer, SHORT)).toBe('waiting');
      await reader.release();
      await (await writer).release();
    });

    testIf(skip, caps.sharedReads, 'exclusive reads')('read locks are shared', async () => {
      const id = freshId();
      const first = await locker.acquire(id, 'read');
      const second = await locker.acquire(id, 'read', { timeout: 2000 });
      await Promise.all([first.release(), second.release()]);
    });

    exclusive('locks of different ids do not exclude each other', async () => {
      const a = await locker.acquire(freshId(), 'write');
      const b = await locker.acquire(freshId(), 'write', { timeout: 2000 });
      await Promise.all([a.release(), b.release()]);
    });

    exclusive('a wait longer than lockTimeout throws LockTimeoutError, and the lock works afterwards', async () => {
      const id = freshId();
      const holder = await locker.acquire(id, 'write');
      const started = Date.now();
      const error = await rejectionOf(locker.acquire(id, 'write', { timeout: 200 }));
      expect(error).toBeInstanceOf(LockTimeoutError);
      expect((error as LockTimeoutError).code).toBe('ERR_LOCK_TIMEOUT');
      // Some backends count whole seconds or poll; allow slack below but not a zero-length wait.
      expect(Date.now() - started).toBeGreaterThanOrEqual(150);
      await holder.release();
      const next = await locker.acquire(id, 'write', { timeout: 2000 });
      await next.release();
    });

    exclusive('an abort while waiting rejects with the signal reason, and the lock works afterwards', async () => {
      const id = freshId();
      const holder = await locker.acquire(id, 'write');
      const controller = new AbortController();
      const waiting = locker.acquire(id, 'write', { signal: controller.signal });
      setTimeout(() => controller.abort(new Error('caller gave up')), 50);
      expect(((await rejectionOf(waiting)) as Error).message).toBe('caller gave up');
      await holder.release();
      const next = await locker.acquire(id, 'write', { timeout: 2000 });
      await next.release();
    });

    test('an already aborted signal rejects without taking the lock', async () => {
      const id = freshId();
      const error = await rejectionOf(locker.acquire(id, 'write', { signal: AbortSignal.abort() }));
      expect((error as Error).name).toBe('AbortError');
      const lock = await locker.acquire(id, 'write', { timeout: 2000 });
      await lock.release();
    });

    exclusive('50 concurrent increments through sessions end at exactly 50', async () => {
      const flavor = defineSession({
        store: options.store?.() ?? memoryStore(),
        locker,
        generator: { name: 'fixed', generate: freshId, validate(id): asserts id is string { if (typeof id !== 'string') throw new TypeError('id'); } },
        serializer: { name: 'json', output: 'text', serialize: (v) => JSON.stringify(v), unserialize: (d) => JSON.parse(typeof d === 'string' ? d : Buffer.from(d).toString()) },
      });
      const created = await flavor.open<{ count: number }>();
      created.count = 0;
      const id = created._session_id;
      await created[Symbol.asyncDispose]();
      await Promise.all(Array.from({ length: 50 }, async () => {
        const session = await flavor.open<{ count: number }>(id);
        const seen = session.count;
        // Yield so that, without a lock, every opener would read the same count.
        await new Promise((resolve) => setImmediate(resolve));
        session.count = seen + 1;
        await session[Symbol.asyncDispose]();
      }));
      const final = await flavor.open<{ count: number }>(id, { readonly: true });
      expect(final.count).toBe(50);
      await final[Symbol.asyncDispose]();
      if (options.store) await flavor.parts.store.close?.();
    });
  });
}
