import type { LockMode, Locker } from '@tied/core';
import { lockWith, type HoldStatements, type SqlDriver } from './held.js';

/** A SQL locker: each lock held on a pooled connection of `driver`, by the statements `hold` gives. */
export function heldLocker<C>(name: string, sharedReads: boolean, driver: SqlDriver<C>, hold: (id: string, mode: LockMode) => HoldStatements, close: () => Promise<void>): Locker {
  return {
    name,
    capabilities: { sharedReads, crossProcess: true, excludes: true },
    acquire: async (id, mode, options) => (await lockWith(driver, hold(id, mode), id, mode, options)).lock,
    close,
  };
}
