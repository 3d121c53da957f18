import assert from 'node:assert/strict';
import { LockTimeoutError, defineSession, memoryStore, tied, type Locker, type Store } from '@tied/core';
import { freshId, rejectionOf, rejectsWith, stateAfter, type SuiteOptions } from './common.js';
import { afterAllOf, testIf, testOrSkip, type TestRunner } from './runner.js';

export interface LockerSuiteOptions extends SuiteOptions<Locker> {
  /**
   * The store the 50-increments test keeps its session in. Default: a memory store (the lock alone
   * is under test). Give the store that goes with the locker to also exercise their fused path.
   */
  store?: () => Store;
}

/** How long a test waits to be sure a lock was *not* granted. */
const SHORT = 150;

/**
 * The contract every Locker keeps. Exclusion tests run only for lockers that declare `excludes`;
 * shared-read tests only for those that declare `sharedReads`.
 */
export function lockerSuite(runner: TestRunner, options: LockerSuiteOptions): void {
  const { name, skip } = options;
  runner.describe(`${name} (locker conformance)`, () => {
    const locker = skip === undefined ? options.factory() : undefined!;
    const caps = locker?.capabilities ?? { excludes: true, sharedReads: true, crossProcess: true };
    const test = testOrSkip(runner, skip);
    const exclusive = testIf(runner, skip, caps.excludes, 'that it excludes nobody');
    afterAllOf(runner)(async () => {
      await locker?.close?.();
    });

    test('declares its capabilities', async () => {
      assert.equal(typeof locker.name, 'string');
      for (const key of ['excludes', 'sharedReads', 'crossProcess'] as const) assert.equal(typeof caps[key], 'boolean', key);
    });

    test('acquire returns a lock for that id and mode; release is idempotent', async () => {
      const id = freshId();
      const lock = await locker.acquire(id, 'write');
      assert.equal(lock.id, id);
      assert.equal(lock.mode, 'write');
      await lock.release();
      await lock.release();
      const again = await locker.acquire(id, 'write', { timeout: 2000 });
      await again.release();
    });

    exclusive('a write lock excludes another write lock until released', async () => {
      const id = freshId();
      const first = await locker.acquire(id, 'write');
      const second = locker.acquire(id, 'write');
      assert.equal(await stateAfter(second, SHORT), 'waiting');
      await first.release();
      await (await second).release();
    });

    exclusive('a write lock excludes a read lock', async () => {
      const id = freshId();
      const writer = await locker.acquire(id, 'write');
      const reader = locker.acquire(id, 'read');
      assert.equal(await stateAfter(reader, SHORT), 'waiting');
      await writer.release();
      await (await reader).release();
    });

    exclusive('a read lock excludes a write lock', async () => {
      const id = freshId();
      const reader = await locker.acquire(id, 'read');
      const writer = locker.acquire(id, 'write');
      assert.equal(await stateAfter(writer, SHORT), 'waiting');
      await reader.release();
      await (await writer).release();
    });

    testIf(runner, skip, caps.sharedReads, 'exclusive reads')('read locks are shared', async () => {
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
      const error = await rejectsWith(locker.acquire(id, 'write', { timeout: 200 }), LockTimeoutError);
      assert.equal(error.code, 'ERR_LOCK_TIMEOUT');
      // Some backends count whole seconds or poll; allow slack below but not a zero-length wait.
      const waited = Date.now() - started;
      assert.ok(waited >= 150, `gave up after ${waited} ms, before the 200 ms timeout`);
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
      assert.equal(((await rejectionOf(waiting)) as Error).message, 'caller gave up');
      await holder.release();
      const next = await locker.acquire(id, 'write', { timeout: 2000 });
      await next.release();
    });

    test('an already aborted signal rejects without taking the lock', async () => {
      const id = freshId();
      const error = await rejectionOf(locker.acquire(id, 'write', { signal: AbortSignal.abort() }));
      assert.equal((error as Error).name, 'AbortError');
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
      // tied(session).release(), not Symbol.asyncDispose: jest's vm context on Node 20 lacks that symbol.
      const id = await flavor.with<Partial<{ count: number }>, string>(undefined, (created) => {
        created.count = 0;
        return created._session_id;
      });
      await Promise.all(Array.from({ length: 50 }, async () => {
        const session = await flavor.open<{ count: number }>(id);
        const seen = session.count;
        // Yield so that, without a lock, every opener would read the same count.
        await new Promise((resolve) => setImmediate(resolve));
        session.count = seen + 1;
        await tied(session).release();
      }));
      assert.equal(await flavor.with<{ count: number }, number>(id, (final) => final.count, { readonly: true }), 50);
      if (options.store) await flavor.parts.store.close?.();
    });
  });
}
