import type { Locker } from './roles.js';

/** Locks nothing: Perl's Lock::Null. For single-user scripts and read-mostly caches only. */
export function nullLocker(): Locker {
  return {
    name: 'null',
    capabilities: { sharedReads: true, crossProcess: false, excludes: false },
    async acquire(id, mode, options = {}) {
      options.signal?.throwIfAborted();
      let held = true;
      return { id, mode, get held() { return held; }, release: async () => { held = false; } };
    },
  };
}
