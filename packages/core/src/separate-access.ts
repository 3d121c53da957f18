import { LockLostError } from './errors.js';
import type { AcquireOptions, FusedAccess, Lock, LockMode, Locker, Payload, Store, StoredSession } from './roles.js';

/** Refuses a write under a lock its locker says is no longer held: nothing is written. */
export function assertHeld(lock: Lock, id: string): void {
  if (lock.held === false) throw new LockLostError(id, `The lock of session ${id} is no longer held; nothing was written`);
}

/**
 * The `FusedAccess` of a store and a locker that do not share a backend: each step is a call to one
 * part, and every failure after the lock was taken releases it. (Each step is written out rather than
 * passed as a callback to a shared helper: a closure and an async frame less per open and release.)
 */
export function separateAccess(store: Store, locker: Locker): FusedAccess {
  return {
    async lockAndMaterialize(id: string, mode: LockMode, options: AcquireOptions): Promise<{ lock: Lock; stored: StoredSession }> {
      const lock = await locker.acquire(id, mode, options);
      try {
        return { lock, stored: await store.materialize(id) };
      } catch (error) {
        await lock.release();
        throw error;
      }
    },
    async lockAndInsert(id: string, data: Payload, options: AcquireOptions): Promise<Lock> {
      const lock = await locker.acquire(id, 'write', options);
      try {
        await store.insert(id, data);
      } catch (error) {
        await lock.release();
        throw error;
      }
      return lock;
    },
    async updateLocked(lock, id, data) {
      assertHeld(lock, id);
      await store.update(id, data);
    },
    async updateAndRelease(lock, id, data) {
      try {
        if (data === undefined) return;
        assertHeld(lock, id);
        await store.update(id, data);
      } finally {
        await lock.release();
      }
    },
    async removeAndRelease(lock, id) {
      try {
        assertHeld(lock, id);
        await store.remove(id);
      } finally {
        await lock.release();
      }
    },
  };
}
