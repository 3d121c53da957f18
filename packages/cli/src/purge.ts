import { unlinkSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Flavor, Lock } from '@tied/core';
import { CliError, EXIT, exitCodeOf } from './exit-codes.js';
import { listSessions } from './listing.js';

export interface PurgeOptions {
  olderThan: number;
  dryRun: boolean;
  batchSize: number;
  signal: AbortSignal;
  /** Called after each batch with how many sessions it went through. */
  onBatch(done: number): void;
}

export interface PurgeResult {
  /** Removed (or, in a dry run, that would be). */
  purged: number;
  /** Old when listed, but in use (lock not granted in time) or saved again since: left alone. */
  skipped: number;
  /** True when a signal stopped it before the end. */
  interrupted: boolean;
}

/** How long purge waits for the lock of a session in use before leaving it for the next run. */
const IN_USE_WAIT_MS = 1_000;
/** Sessions of one batch removed at once: enough to hide a server's round trips, few enough not to hog its pool. */
const PARALLEL_REMOVALS = 4;
/** The pause between two batches, so a live store's own traffic gets through. */
const BATCH_PAUSE_MS = 5;

/**
 * Removes the sessions not saved for `olderThan` ms, in batches: the ids come from the store's
 * listing, and each one is removed under its write lock after checking, under that lock, that it was
 * not saved since it was listed. One huge DELETE would hold a live store's table (or event loop) for
 * as long as it runs; this never holds more than a few sessions' locks at a time.
 */
export async function purgeSessions(flavor: Flavor, options: PurgeOptions): Promise<PurgeResult> {
  const { store, locker } = flavor.parts;
  if (!store.capabilities.purge || !store.capabilities.updatedAt) {
    throw new CliError(`The ${store.name} store doesn't support purge${store.capabilities.updatedAt ? '' : ": it keeps no time of last save (Perl's schema)"}`, EXIT.unsupported);
  }
  const cutoff = Date.now() - options.olderThan;
  // The file locker keeps one lock file per session: removed with its session (under its lock, as
  // the locker's own clean does), or purge would leave as many lock files as it removes sessions.
  const lockFileOf = (locker as { pathOf?: (id: string) => string }).pathOf;
  const result: PurgeResult = { purged: 0, skipped: 0, interrupted: false };

  const removeIfStillOld = async (id: string): Promise<void> => {
    let lock: Lock;
    try {
      lock = await locker.acquire(id, 'write', { timeout: IN_USE_WAIT_MS, signal: options.signal });
    } catch (error) {
      // Stopped while waiting: the session stays, and the caller reports the interruption.
      if (options.signal.aborted) return;
      if (exitCodeOf(error) !== EXIT.lockTimeout) throw error;
      result.skipped++;
      return;
    }
    try {
      const stored = await store.materialize(id);
      if (stored.updatedAt === undefined || stored.updatedAt >= cutoff) {
        result.skipped++;
        return;
      }
      await store.remove(id);
      if (lockFileOf) unlinkQuietly(lockFileOf(id));
      result.purged++;
    } catch (error) {
      // Removed by someone else since it was listed.
      if (exitCodeOf(error) !== EXIT.notFound) throw error;
    } finally {
      await lock.release();
    }
  };

  const runBatch = async (ids: string[]): Promise<void> => {
    if (options.dryRun) {
      result.purged += ids.length;
    } else {
      for (let start = 0; start < ids.length && !options.signal.aborted; start += PARALLEL_REMOVALS) {
        await Promise.all(ids.slice(start, start + PARALLEL_REMOVALS).map(removeIfStillOld));
      }
    }
    options.onBatch(ids.length);
    await sleep(BATCH_PAUSE_MS);
  };

  let batch: string[] = [];
  for await (const { id, updatedAt } of listSessions(flavor, 'purge')) {
    if (options.signal.aborted) {
      result.interrupted = true;
      return result;
    }
    if (updatedAt === undefined || updatedAt >= cutoff) continue;
    batch.push(id);
    if (batch.length >= options.batchSize) {
      await runBatch(batch);
      batch = [];
    }
  }
  if (batch.length > 0) await runBatch(batch);
  result.interrupted = options.signal.aborted;
  return result;
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // Gone already, or a lock file the next clean-locks removes.
  }
}
