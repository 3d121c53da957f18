import { closeSync, constants, fstatSync, mkdirSync, openSync, statSync, unlinkSync } from 'node:fs';
import { opendir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import fsExt from 'fs-ext';
import {
  InvalidSessionIdError, LockTimeoutError, abortReason, memoryLocker,
  type AcquireOptions, type Lock, type LockMode, type Locker,
} from '@tied/core';

export interface FileLockerOptions {
  /** Where the lock files live (Perl's LockDirectory). Created on first use (mode 0700); its parent must exist. */
  lockDirectory: string;
}

/** A file locker: the Locker role, plus Perl's `clean`. */
export interface FileLocker extends Locker {
  readonly lockDirectory: string;
  /** The lock file of session `id`: `<lockDirectory>/Apache-Session-<id>.lock`. */
  pathOf(id: string): string;
  /**
   * Removes lock files not used for `olderThan` ms, as Perl's `clean($dir, $time)`: each is locked
   * exclusively before it is unlinked, so a lock in use is never removed. Returns how many.
   */
  clean(options: { olderThan: number }): Promise<number>;
}

/** Lock file names, as Perl's `clean` matches them. */
const LOCK_FILE = /^Apache-Session-.*\.lock$/;

/**
 * Ids that make a plain file name, the same as the file store takes: 1–200 printable ASCII
 * characters without `/` or `\`, not starting with a dot.
 */
const FILE_NAME_ID = /^[\x21-\x2d\x30-\x5b\x5d-\x7e][\x21-\x2e\x30-\x5b\x5d-\x7e]{0,199}$/;

/** Waiting for another process is polling (1, 2, 4, … ms): a blocking flock would hold a threadpool thread. */
const FIRST_POLL = 1;
const LONGEST_POLL = 25;

/** Opening as Perl's `open(FH, "+>file")` does; the truncation also marks the file as recently used. */
const OPEN_LOCK_FILE = constants.O_RDWR | constants.O_CREAT | constants.O_TRUNC;

const { LOCK_SH, LOCK_EX, LOCK_NB } = fsExt.constants;

/**
 * flock(2) on `<lockDirectory>/Apache-Session-<id>.lock`, shared for read and exclusive for write:
 * the file names and lock kinds of Perl's Apache::Session::Lock::File, so Perl and Node processes
 * exclude each other. Within this process, waiters of one id queue first come, first served; across
 * processes a waiter polls with a non-blocking flock, so waiting never occupies the libuv threadpool.
 */
export function fileLocker(options: FileLockerOptions): FileLocker {
  if (typeof options?.lockDirectory !== 'string' || options.lockDirectory === '') {
    throw new TypeError('fileLocker needs a lockDirectory (a non-empty path)');
  }
  const lockDirectory = resolve(options.lockDirectory);
  // The in-process queue: only the waiter at its head polls the file.
  const queue = memoryLocker();

  const pathOf = (id: string): string => {
    if (typeof id !== 'string' || !FILE_NAME_ID.test(id)) {
      const shown = typeof id !== 'string' ? typeof id : id.length > 40 ? `${JSON.stringify(id.slice(0, 40))}… (${id.length} characters)` : JSON.stringify(id);
      throw new InvalidSessionIdError(`The file locker cannot use ${shown} in a lock file name: expected 1 to 200 printable ASCII characters without / or \\, not starting with a dot`);
    }
    return `${lockDirectory}/Apache-Session-${id}.lock`;
  };

  const openLockFile = (path: string): number => {
    try {
      return openSync(path, OPEN_LOCK_FILE, 0o600);
    } catch (error) {
      if (errorCode(error) !== 'ENOENT') throw error;
      createDirectory(lockDirectory, 0o700, 'lock');
      return openSync(path, OPEN_LOCK_FILE, 0o600);
    }
  };

  /** Opens and flocks the lock file; resolves with its descriptor, which holds the lock until closed. */
  const lockFile = async (id: string, path: string, mode: LockMode, deadline: number, { timeout, signal }: AcquireOptions): Promise<number> => {
    const operation = (mode === 'read' ? LOCK_SH : LOCK_EX) | LOCK_NB;
    let delay = FIRST_POLL;
    for (;;) {
      const fd = openLockFile(path);
      try {
        while (!tryFlock(fd, operation)) {
          const left = deadline - Date.now();
          if (left <= 0) throw new LockTimeoutError(id, timeout!);
          try {
            await sleep(Math.min(delay, left), undefined, { signal });
          } catch {
            throw abortReason(signal!);
          }
          delay = Math.min(2 * delay, LONGEST_POLL);
        }
      } catch (error) {
        closeSync(fd);
        throw error;
      }
      // A `clean` may have unlinked the file while we waited on it: then lock the one at the path now.
      if (fstatSync(fd).nlink > 0) return fd;
      closeSync(fd);
    }
  };

  return {
    name: 'file',
    lockDirectory,
    capabilities: { sharedReads: true, crossProcess: true, excludes: true },
    pathOf,

    async acquire(id: string, mode: LockMode, acquireOptions: AcquireOptions = {}): Promise<Lock> {
      const path = pathOf(id);
      const deadline = acquireOptions.timeout === undefined ? Infinity : Date.now() + acquireOptions.timeout;
      const queued = await queue.acquire(id, mode, acquireOptions);
      let fd: number;
      try {
        fd = await lockFile(id, path, mode, deadline, acquireOptions);
      } catch (error) {
        await queued.release();
        throw error;
      }
      let held = true;
      return {
        id,
        mode,
        async release() {
          if (!held) return;
          held = false;
          try {
            // Closing the only descriptor of the file releases the flock.
            closeSync(fd);
          } finally {
            await queued.release();
          }
        },
      };
    },

    async clean({ olderThan }) {
      if (!(olderThan >= 0)) throw new RangeError(`clean needs olderThan >= 0 (ms), got ${olderThan}`);
      let dir;
      try {
        dir = await opendir(lockDirectory);
      } catch (error) {
        if (errorCode(error) === 'ENOENT') return 0;
        throw error;
      }
      const cutoff = Date.now() - olderThan;
      let removed = 0;
      for await (const entry of dir) {
        if (LOCK_FILE.test(entry.name) && removeIfUnused(join(lockDirectory, entry.name), cutoff)) removed++;
      }
      return removed;
    },
  };
}

/** flock without waiting: true when taken, false when another holder excludes it. */
function tryFlock(fd: number, operation: number): boolean {
  try {
    fsExt.flockSync(fd, operation);
    return true;
  } catch (error) {
    const code = errorCode(error);
    if (code === 'EAGAIN' || code === 'EWOULDBLOCK') return false;
    throw error;
  }
}

/** Unlinks a lock file last used before `cutoff`, holding its exclusive lock; false when in use or gone. */
function removeIfUnused(path: string, cutoff: number): boolean {
  let fd: number;
  try {
    // No truncation here: that would make the file look freshly used.
    fd = openSync(path, constants.O_RDWR);
  } catch {
    return false;
  }
  try {
    const stats = fstatSync(fd);
    if (stats.mtimeMs > cutoff || !tryFlock(fd, LOCK_EX | LOCK_NB)) return false;
    // Unlink only the very file we hold: another cleaner may have replaced it since we opened it.
    const current = statSync(path, { throwIfNoEntry: false });
    if (!current || current.ino !== stats.ino || current.dev !== stats.dev) return false;
    unlinkSync(path);
    return true;
  } finally {
    closeSync(fd);
  }
}

/**
 * Creates `directory` (not its parents: a mistyped path should fail, not grow a tree), with one clear
 * error naming it. Shared with the file store, which makes its session directory the same way.
 */
export function createDirectory(directory: string, mode: number, what: 'session' | 'lock'): void {
  try {
    mkdirSync(directory, { mode });
  } catch (error) {
    const code = errorCode(error);
    if (code === 'EEXIST') return;
    const parent = dirname(directory);
    const why = code === 'ENOENT' ? `its parent ${parent} does not exist`
      : code === 'ENOTDIR' ? `${parent} is not a directory`
      : code === 'EACCES' || code === 'EPERM' || code === 'EROFS' ? `${parent} is not writable`
      : (error as Error).message;
    throw Object.assign(new Error(`Cannot create the ${what} directory ${directory}: ${why} (${code})`, { cause: error }), { code, path: directory });
  }
}

function errorCode(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}
