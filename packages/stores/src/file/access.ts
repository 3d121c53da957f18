import { SessionNotFoundError, assertHeld, separateAccess, type AcquireOptions, type FusedAccess, type LockMode } from '@tied/core';
import { releaseRemovingLockFile, type FileLocker } from './locker.js';
import type { FileStore } from './store.js';

/**
 * How a file store and a file locker work together. There is no connection to share, so each step
 * is a call to one part, as in `separateAccess`, whose steps it takes; what the pair adds is that no lock file outlives
 * its session: opening an absent id, or deleting a session, unlinks the lock file with the lock —
 * when the lock is held exclusively at that moment (see `releaseRemovingLockFile`).
 */
export function fileAccess(store: FileStore, locker: FileLocker): FusedAccess {
  return {
    ...separateAccess(store, locker),
    async lockAndMaterialize(id: string, mode: LockMode, options: AcquireOptions) {
      const lock = await locker.acquire(id, mode, options);
      try {
        return { lock, stored: await store.materialize(id) };
      } catch (error) {
        await (error instanceof SessionNotFoundError ? releaseRemovingLockFile(lock) : lock.release());
        throw error;
      }
    },
    async removeAndRelease(lock, id) {
      try {
        assertHeld(lock, id);
        await store.remove(id);
      } catch (error) {
        await lock.release();
        throw error;
      }
      await releaseRemovingLockFile(lock);
    },
  };
}
