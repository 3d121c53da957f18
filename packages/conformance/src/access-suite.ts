import assert from 'node:assert/strict';
import {
  InvalidSessionIdError,
  LockLostError,
  LockTimeoutError,
  SessionExistsError,
  SessionNotFoundError,
  SessionTooLargeError,
  defineSession,
  separateAccess,
  tied,
  type FusedAccess,
  type Flavor,
  type Generator,
  type Lock,
  type Locker,
  type Payload,
  type Serializer,
  type Store,
  type StoredSession,
} from '@tied/core';
import { assertInstanceOf, bytesOf, freshId, rejectionOf, rejectsWith, stateAfter, type SuiteOptions } from './common.js';
import { afterAllOf, testIf, testOrSkip, type TestRunner } from './runner.js';
import { storeSuite } from './store-suite.js';

/** The two parts a session uses together while it holds a lock. */
export interface StoreAndLocker {
  store: Store;
  locker: Locker;
}

export type AccessSuiteOptions = SuiteOptions<StoreAndLocker>;

/** A payload the store refuses, and the error it must refuse it with. */
interface Refused {
  readonly what: string;
  readonly data: Payload;
  readonly error: abstract new (...args: never[]) => Error;
}

/** Ids as `freshId` makes them: the sessions the re-run store suite opens are refused nothing else. */
const freshIds: Generator = {
  name: 'freshId',
  generate: freshId,
  validate(id): asserts id is string {
    if (typeof id !== 'string' || !/^[0-9a-f]{32}$/.test(id)) throw new InvalidSessionIdError('expected 32 lower-case hex characters');
  },
};

/**
 * A store made of sessions: each call opens a session of `flavor` and goes through its fused access
 * (insert = a lazy new session under that id, update = open and assign, materialize = a readonly
 * open, remove = open and delete). The store suite re-run on it proves the session layer and the
 * fused access keep the store's contract, as abstract-level re-runs its suite on a sublevel.
 */
export function storeOfSessions(flavor: Flavor): Store {
  const { store } = flavor.parts;
  type Holder = { payload: Payload };
  return {
    name: `${store.name} through sessions`,
    // A session shows neither when it was saved nor the other sessions.
    capabilities: { ...store.capabilities, updatedAt: false, list: false },
    insert: (id, data) => flavor.with<Partial<Holder>>(undefined, (session) => { session.payload = data; }, { id, lazy: true }),
    update: (id, data) => flavor.with<Holder>(id, (session) => { session.payload = data; }),
    materialize: (id) => flavor.with<Holder, StoredSession>(id, (session) => ({ data: session.payload }), { readonly: true }),
    async remove(id) {
      let session;
      try {
        session = await flavor.open(id);
      } catch (error) {
        if (error instanceof SessionNotFoundError) return;
        throw error;
      }
      await tied(session).delete();
    },
    ...(store.purge && { purge: (options: { olderThan: number }) => flavor.purge(options) }),
  };
}

/** Keeps the store's payload as the whole session, so the store suite's bytes reach the store as they are. */
function payloadSerializer(store: Store): Serializer {
  const text = store.capabilities.text;
  return {
    name: 'payload',
    output: text ? 'text' : 'binary',
    serialize: (value) => (value.payload as Payload | undefined) ?? (text ? '' : new Uint8Array(0)),
    unserialize: (data) => ({ payload: data }),
  };
}

/** How long a test waits to be sure a lock was *not* granted. */
const SHORT = 150;

/**
 * The contract of a store and a locker used together, through the one protocol a session uses while
 * it holds a lock (`store.fuse?.(locker) ?? separateAccess(store, locker)`, see `FusedAccess` in
 * @tied/core): every failure releases the lock, a lock no longer held writes nothing, and the store
 * suite passes again through sessions of a flavor made of the two parts.
 */
export function accessSuite(runner: TestRunner, options: AccessSuiteOptions): void {
  const { name, skip } = options;
  runner.describe(`${name} (fused access conformance)`, () => {
    const parts = skip === undefined ? options.factory() : undefined;
    const store = parts?.store as Store;
    const locker = parts?.locker as Locker;
    const access: FusedAccess = parts ? (store.fuse?.(locker) ?? separateAccess(store, locker)) : undefined!;
    const storeCaps = parts?.store.capabilities ?? { binary: true, text: true, maxPayloadBytes: undefined };
    const excludes = parts?.locker.capabilities.excludes ?? true;
    const test = testOrSkip(runner, skip);
    const exclusive = testIf(runner, skip, excludes, 'a locker that excludes nobody');
    afterAllOf(runner)(async () => {
      await Promise.all([store?.close?.(), locker?.close?.()]);
    });

    const payload = (text: string): Payload => (storeCaps.text ? text : new TextEncoder().encode(text));
    const read = async (id: string) => bytesOf((await store.materialize(id)).data).toString('utf8');
    const stored = async (text: string) => {
      const id = freshId();
      await store.insert(id, payload(text));
      return id;
    };
    /** Fails unless nobody holds the lock of `id` (a locker that excludes nobody cannot tell). */
    const assertFree = async (id: string, after: string) => {
      if (!excludes) return;
      let lock: Lock;
      try {
        lock = await locker.acquire(id, 'write', { timeout: 3000 });
      } catch (error) {
        if (error instanceof LockTimeoutError) assert.fail(`the lock of ${id} was still held 3 s after ${after}`);
        throw error;
      }
      await lock.release();
    };

    const limit = storeCaps.maxPayloadBytes;
    const refused: Refused[] = [];
    if (limit !== undefined) refused.push({ what: `${limit + 1} bytes (maxPayloadBytes ${limit})`, data: payload('x'.repeat(limit + 1)), error: SessionTooLargeError });
    if (!storeCaps.binary) refused.push({ what: 'a binary payload on a text-only store', data: Uint8Array.of(0, 1, 2), error: Error });
    if (!storeCaps.text) refused.push({ what: 'a text payload on a binary-only store', data: 'text', error: Error });

    test('lockAndInsert, updateLocked and updateAndRelease write under the lock, and release it', async () => {
      const id = freshId();
      const lock = await access.lockAndInsert(id, payload('v1'), {});
      assert.equal(lock.id, id);
      assert.equal(lock.mode, 'write');
      await access.updateLocked(lock, id, payload('v2'));
      await access.updateAndRelease(lock, id, undefined);
      assert.equal(await read(id), 'v2');
      await assertFree(id, 'updateAndRelease without data');
      const again = await access.lockAndMaterialize(id, 'write', {});
      assert.equal(bytesOf(again.stored.data).toString(), 'v2');
      await access.updateAndRelease(again.lock, id, payload('v3'));
      assert.equal(await read(id), 'v3');
      await assertFree(id, 'updateAndRelease');
    });

    test('lockAndMaterialize in read mode reads the session and updateAndRelease without data releases it', async () => {
      const id = await stored('read me');
      const { lock, stored: session } = await access.lockAndMaterialize(id, 'read', {});
      assert.equal(lock.mode, 'read');
      assert.equal(bytesOf(session.data).toString(), 'read me');
      await access.updateAndRelease(lock, id, undefined);
      await assertFree(id, 'releasing a read lock');
    });

    exclusive('the lock taken by lockAndMaterialize and lockAndInsert is the locker\'s: it excludes other writers until released', async () => {
      const id = freshId();
      const inserted = await access.lockAndInsert(id, payload('v1'), {});
      const waiting = locker.acquire(id, 'write');
      assert.equal(await stateAfter(waiting, SHORT), 'waiting', 'lockAndInsert left the id unlocked');
      await access.updateAndRelease(inserted, id, undefined);
      const plain = await waiting;
      const fused = access.lockAndMaterialize(id, 'write', {});
      assert.equal(await stateAfter(fused, SHORT), 'waiting', 'lockAndMaterialize did not wait for the locker\'s lock');
      await plain.release();
      const { lock } = await fused;
      await access.updateAndRelease(lock, id, undefined);
      await assertFree(id, 'updateAndRelease');
    });

    for (const mode of ['write', 'read'] as const) {
      test(`lockAndMaterialize (${mode}) of a missing id throws SessionNotFoundError and releases the lock`, async () => {
        const id = freshId();
        await rejectsWith(access.lockAndMaterialize(id, mode, {}), SessionNotFoundError);
        await assertFree(id, 'SessionNotFoundError');
      });
    }

    test('lockAndInsert of an existing id throws SessionExistsError, keeps the stored version and releases the lock', async () => {
      const id = await stored('first');
      await rejectsWith(access.lockAndInsert(id, payload('second'), {}), SessionExistsError);
      assert.equal(await read(id), 'first');
      await assertFree(id, 'SessionExistsError');
    });

    testIf(runner, skip, refused.length > 0, 'no payload its store refuses (no maxPayloadBytes, text and binary)')(
      'a write the store refuses fails, keeps the stored version and releases the lock', async () => {
        for (const { what, data, error } of refused) {
          const fresh = freshId();
          await rejectsWith(access.lockAndInsert(fresh, data, {}), error, `lockAndInsert of ${what}`);
          await rejectsWith(store.materialize(fresh), SessionNotFoundError, `after a refused lockAndInsert of ${what}`);
          await assertFree(fresh, `a refused lockAndInsert of ${what}`);

          const id = await stored('kept');
          const { lock } = await access.lockAndMaterialize(id, 'write', {});
          await rejectsWith(access.updateLocked(lock, id, data), error, `updateLocked of ${what}`);
          await rejectsWith(access.updateAndRelease(lock, id, data), error, `updateAndRelease of ${what}`);
          assert.equal(await read(id), 'kept', `the stored version after refusing ${what}`);
          await assertFree(id, `a refused updateAndRelease of ${what}`);
        }
      });

    test('removeAndRelease removes the session and releases the lock', async () => {
      const id = await stored('doomed');
      const { lock } = await access.lockAndMaterialize(id, 'write', {});
      await access.removeAndRelease(lock, id);
      await rejectsWith(store.materialize(id), SessionNotFoundError);
      await assertFree(id, 'removeAndRelease');
    });

    // The lock is released under the session — as a lost connection, an expired lease or a closed
    // locker would end it — and another writer takes it: the stale session's write must not land.
    const lostLock = (what: string, write: (lock: Lock, id: string) => Promise<void>) => async () => {
      const id = await stored('kept');
      const { lock } = await access.lockAndMaterialize(id, 'write', {});
      await lock.release();
      const next = await locker.acquire(id, 'write', { timeout: 3000 });
      let outcome: unknown;
      let after: string;
      try {
        outcome = await write(lock, id).then(() => 'fulfilled', (error: unknown) => error);
        after = await read(id).catch((error: unknown) => (error instanceof SessionNotFoundError ? 'removed' : Promise.reject(error)));
      } finally {
        await next.release();
      }
      const context = `${what} after the lock was released and taken by another writer`;
      assert.equal(after, 'kept', `${context} ${outcome === 'fulfilled' ? 'fulfilled' : 'failed'}, and the session the other writer holds was ${after === 'removed' ? 'removed' : `changed to '${after}'`}`);
      if (outcome === 'fulfilled') assert.fail(`${context}: expected a refusal, but it fulfilled (nothing was written)`);
      // LockLostError; or a TypeError, as a lock its caller released itself is a misuse of it.
      if (!(outcome instanceof TypeError)) assertInstanceOf(outcome, LockLostError, context);
      await assertFree(id, `${what} refused`);
    };

    exclusive('updateLocked under a lock no longer held is refused and writes nothing',
      lostLock('updateLocked', (lock, id) => access.updateLocked(lock, id, payload('stale'))));

    exclusive('updateAndRelease under a lock no longer held is refused and writes nothing',
      lostLock('updateAndRelease', (lock, id) => access.updateAndRelease(lock, id, payload('stale'))));

    exclusive('removeAndRelease under a lock no longer held is refused and removes nothing',
      lostLock('removeAndRelease', (lock, id) => access.removeAndRelease(lock, id)));

    exclusive('lockAndMaterialize and lockAndInsert give up after the timeout with LockTimeoutError, holding nothing', async () => {
      const id = await stored('held');
      const absent = freshId();
      const holders = [await locker.acquire(id, 'write'), await locker.acquire(absent, 'write')];
      await rejectsWith(access.lockAndMaterialize(id, 'write', { timeout: 200 }), LockTimeoutError);
      await rejectsWith(access.lockAndInsert(absent, payload('other'), { timeout: 200 }), LockTimeoutError);
      await Promise.all(holders.map((holder) => holder.release()));
      await rejectsWith(store.materialize(absent), SessionNotFoundError, 'after lockAndInsert timed out');
      await assertFree(id, 'LockTimeoutError');
      await assertFree(absent, 'LockTimeoutError');
    });

    test('an aborted signal rejects with its reason and holds nothing', async () => {
      const id = await stored('kept');
      const absent = freshId();
      const signal = AbortSignal.abort(new Error('caller gave up'));
      assert.equal(((await rejectionOf(access.lockAndMaterialize(id, 'write', { signal }))) as Error).message, 'caller gave up');
      assert.equal(((await rejectionOf(access.lockAndInsert(absent, payload('x'), { signal }))) as Error).message, 'caller gave up');
      await rejectsWith(store.materialize(absent), SessionNotFoundError, 'after an aborted lockAndInsert');
      await assertFree(id, 'an abort');
    });

    storeSuite(runner, {
      name: `${name}: the store suite through sessions`,
      skip,
      factory: () => storeOfSessions(defineSession({ store, locker, generator: freshIds, serializer: payloadSerializer(store) })),
    });
  });
}
