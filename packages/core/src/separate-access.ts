import { LockLostError } from './errors.js';
import type { AcquireOptions, FusedAccess, Lock, LockMode, Locker, Payload, Store, StoredSession } from './roles.js';

/** Refuses a write under a lock its locker says is no longer held: nothing is written. */
export function assertHeld(lock: Lock, id: string): void {
  if (lock.held === false) throw new LockLostError(id, `The lock of session ${id} is no longer held; nothing was written`);
}

/**
 * The `FusedAccess` of a store and a locker that do not share a backend: each step is a call to one
 * part, and every failure after the lock was taken releases it.
 */
export function separateAccess(store: Store, locker: Locker): FusedAccess {
  const releasing = async <T>(lock: Lock, step: () => Promise<T>): Promise<T> => {
    try {
      return await step();
    } finally {
      await lock.release();
    }
  };
  const releasingOnError = async <T>(lock: Lock, step: () => Promise<T>): Promise<T> => {
    try {
      return await step();
    } catch (error) {
      await lock.release();
      throw error;
    }
  };
  return {
    async lockAndMaterialize(id: string, mode: LockMode, options: AcquireOptions): Promise<{ lock: Lock; stored: StoredSession }> {
      const lock = await locker.acquire(id, mode, options);
      return { lock, stored: await releasingOnError(lock, () => store.materialize(id)) };
    },
    async lockAndInsert(id: string, data: Payload, options: AcquireOptions): Promise<Lock> {
      const lock = await locker.acquire(id, 'write', options);
      await releasingOnError(lock, () => store.insert(id, data));
      return lock;
    },
    async updateLocked(lock, id, data) {
      assertHeld(lock, id);
      await store.update(id, data);
    },
    updateAndRelease: (lock, id, data) => releasing(lock, async () => {
      if (data === undefined) return;
      assertHeld(lock, id);
      await store.update(id, data);
    }),
    removeAndRelease: (lock, id) => releasing(lock, async () => {
      assertHeld(lock, id);
      await store.remove(id);
    }),
  };
}
