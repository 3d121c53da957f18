import type { AcquireOptions, FusedAccess, Lock, LockMode, Locker, Payload, Store, StoredSession } from './roles.js';

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
    updateLocked: (_lock, id, data) => store.update(id, data),
    updateAndRelease: (lock, id, data) => releasing(lock, async () => { if (data !== undefined) await store.update(id, data); }),
    removeAndRelease: (lock, id) => releasing(lock, () => store.remove(id)),
  };
}
