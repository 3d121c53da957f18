import { closeSync, lstatSync, unlinkSync, type Stats } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { LockTimeoutError, abortReason, type AcquireOptions, type LockMode } from '@tied/core';
import { LOCK_EX, LOCK_SH, tryFlock } from './flock.js';
import { errorCode } from './names.js';
import { stillAt } from './open-file.js';

/** An open file and what it was when opened (to tell it from one put at its path since). */
export interface OpenedFile {
  fd: number;
  stats: Stats;
}

/** How one file locker opens the files of a wait: the file to flock and the writer's gate beside it. */
export interface FlockFiles {
  /** The file to flock; undefined when it is absent and not to be created (there is nothing to lock). */
  openTarget(): OpenedFile | undefined;
  /** The gate; `create` false: an absent gate throws ENOENT. */
  openGate(create: boolean): OpenedFile;
}

/** Waiting for another process is polling (1, 2, 4, … 25 ms): a blocking flock would hold a threadpool thread. */
const FIRST_POLL = 1;
const LONGEST_POLL = 25;

/**
 * Opens and flocks the file at `path` (through `files.openTarget`), waiting until `deadline` (ms since
 * the epoch) or the signal. A waiting writer holds the gate at `gate`, which keeps new readers back so
 * they cannot starve it; a reader waits while a writer holds it. Resolves with the descriptor, which
 * holds the lock until closed, or undefined when there is nothing to lock.
 */
export async function flockWaiting(id: string, path: string, gate: string, mode: LockMode, deadline: number, { timeout, signal }: AcquireOptions, files: FlockFiles): Promise<OpenedFile | undefined> {
  const operation = mode === 'read' ? LOCK_SH : LOCK_EX;
  let file: OpenedFile | undefined;
  let heldGate: OpenedFile | undefined;
  let delay = FIRST_POLL;
  try {
    for (;;) {
      // A reader lets a waiting writer go first; a writer waits only for the holders.
      if (mode === 'write' || !gateClosed(gate, files)) {
        file ??= files.openTarget();
        if (!file) return undefined;
        if (tryFlock(file.fd, operation)) {
          // Unlinked or replaced (a clean, a purge, a grown file) while we waited: lock the one at the path now.
          if (stillAt(path, file.stats)) {
            const locked = file;
            file = undefined;
            return locked;
          }
          closeSync(file.fd);
          file = undefined;
          continue;
        }
        if (mode === 'write' && !heldGate) heldGate = takeGate(gate, files);
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new LockTimeoutError(id, timeout!);
      try {
        await sleep(Math.min(delay, left), undefined, { signal });
      } catch {
        throw abortReason(signal!);
      }
      delay = Math.min(2 * delay, LONGEST_POLL);
    }
  } finally {
    if (file) closeSync(file.fd);
    if (heldGate) {
      // Unlink only the gate we hold: after a clean, another writer may hold a new one at that path.
      unlinkIfStillAt(gate, heldGate.stats);
      closeSync(heldGate.fd);
    }
  }
}

/** True while a writer (of any tied process) holds the gate, waiting for the lock. */
function gateClosed(gate: string, files: FlockFiles): boolean {
  if (!lstatSync(gate, { throwIfNoEntry: false })) return false;
  let fd: number;
  try {
    ({ fd } = files.openGate(false));
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return false;
    throw error;
  }
  try {
    // A gate nobody holds was left by a writer that died; clean and purge remove it.
    return !tryFlock(fd, LOCK_SH);
  } finally {
    closeSync(fd);
  }
}

/** A writer takes the gate when its first try failed; undefined when another writer holds it. */
function takeGate(gate: string, files: FlockFiles): OpenedFile | undefined {
  const opened = files.openGate(true);
  // A gate unlinked meanwhile keeps no reader back: try again with the one at the path then.
  if (tryFlock(opened.fd, LOCK_EX) && stillAt(gate, opened.stats)) return opened;
  closeSync(opened.fd);
  return undefined;
}

/**
 * Unlinks `path` if it is still the file `stats` describes. Best effort, for a file whose removal is
 * tidying only (a gate or an empty lock file left over is removed by clean or purge): a failure here
 * must not turn a lock or a release into an error.
 */
export function unlinkIfStillAt(path: string, stats: Stats): void {
  try {
    if (stillAt(path, stats)) unlinkSync(path);
  } catch {
    // Removed by hand or by a cleaner meanwhile, or the directory became unwritable: leave it.
  }
}
