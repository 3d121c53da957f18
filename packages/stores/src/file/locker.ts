import { closeSync, constants, futimesSync, lstatSync, unlinkSync, type Stats } from 'node:fs';
import { opendir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { memoryLocker, type AcquireOptions, type Lock, type LockMode, type Locker } from '@tied/core';
import { assertPrivateDirectory, createDirectory } from './directory.js';
import { LockFileError } from './errors.js';
import { LOCK_EX, tryFlock } from './flock.js';
import { flockWaiting, unlinkIfStillAt, type FlockFiles } from './flock-wait.js';
import { assertFileNameId, errorCode, PERL_LOCK_FILE } from './names.js';
import { openRegularFile, stillAt } from './open-file.js';

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
   * Removes lock files (and writer gates) not used for `olderThan` ms, as Perl's `clean($dir, $time)`:
   * each is locked exclusively before it is unlinked, so a lock in use is never removed. Returns how
   * many lock files it removed.
   */
  clean(options: { olderThan: number }): Promise<number>;
}

/** A writer's gate: `.Apache-Session-<id>.gate`. No id starts with a dot, so no lock file or session has this name. */
const GATE_FILE = /^\.Apache-Session-.*\.gate$/;

/** Opening as Perl's `open(FH, "+>file")` does, but without truncating: the file is checked first. */
const OPEN_LOCK_FILE = constants.O_RDWR | constants.O_CREAT;
/** Opening a gate or a file to clean: never created. */
const OPEN_EXISTING = constants.O_RDWR;

/** The file lockers, so that a file store recognizes them in `fuse`. */
const fileLockers = new WeakSet<Locker>();
/** For each held lock of a file locker: its release that also unlinks the lock file when that is safe. */
const releasesRemovingFile = new WeakMap<Lock, () => Promise<void>>();

export function isFileLocker(locker: Locker): locker is FileLocker {
  return fileLockers.has(locker);
}

/**
 * Releases a lock and, when it is a file locker's and no one else holds or waits on the file in a way
 * flock can see (the lock is taken exclusively without waiting), unlinks its lock file: what opening an
 * absent session or deleting one does, so that no lock file outlives its session. Other locks are
 * simply released.
 */
export function releaseRemovingLockFile(lock: Lock): Promise<void> {
  return (releasesRemovingFile.get(lock) ?? (() => lock.release()))();
}

/**
 * flock(2) on `<lockDirectory>/Apache-Session-<id>.lock`, shared for read and exclusive for write:
 * the file names and lock kinds of Perl's Apache::Session::Lock::File, so Perl and Node processes
 * exclude each other. Within this process, waiters of one id queue first come, first served; across
 * processes a waiter polls with a non-blocking flock, so waiting never occupies the libuv threadpool,
 * and a waiting writer holds a gate file that keeps new tied readers back, so readers cannot starve it.
 */
export function fileLocker(options: FileLockerOptions): FileLocker {
  if (typeof options?.lockDirectory !== 'string' || options.lockDirectory === '') {
    throw new TypeError('fileLocker needs a lockDirectory (a non-empty path)');
  }
  const lockDirectory = resolve(options.lockDirectory);
  // The in-process queue: only the waiter at its head polls the file.
  const queue = memoryLocker();
  const owner = process.geteuid?.();

  const pathOf = (id: string): string => {
    assertFileNameId(id, (shown) => `The file locker cannot use ${shown} in a lock file name`);
    return `${lockDirectory}/Apache-Session-${id}.lock`;
  };
  const gateOf = (id: string): string => `${lockDirectory}/.Apache-Session-${id}.gate`;

  /**
   * Opens a lock or gate file that tied may lock: a regular file of this user with no other hard
   * link. It is never truncated (a planted link must not empty its target).
   */
  const openChecked = (path: string, flags: number): { fd: number; stats: Stats } => {
    const refuse = (what: string) => new LockFileError(path, `The lock file ${path} is ${what}: tied does not follow, truncate or lock it (it may have been planted; remove it, and keep lock files in a private directory)`);
    let opened: { fd: number; stats: Stats };
    try {
      opened = openRegularFile(path, flags, 0o600, (kind) => refuse(`${kind}, not a regular file`));
    } catch (error) {
      // Another user's file that we may not even open: say whose it is rather than a bare EACCES.
      const code = errorCode(error);
      const found = code === 'EACCES' || code === 'EPERM' ? lstatSync(path, { throwIfNoEntry: false }) : undefined;
      if (found && owner !== undefined && found.uid !== owner) throw refuse(`owned by user ${found.uid}, not ${owner}`);
      throw error;
    }
    const { fd, stats } = opened;
    const problem = owner !== undefined && stats.uid !== owner ? `owned by user ${stats.uid}, not ${owner}`
      : stats.nlink > 1 ? `a file with ${stats.nlink} hard links` : undefined;
    if (problem) {
      closeSync(fd);
      throw refuse(problem);
    }
    return opened;
  };

  let directoryChecked = false;
  const checkDirectory = (): void => {
    createDirectory(lockDirectory, 0o700, 'lock');
    assertPrivateDirectory(lockDirectory, 'lock');
    directoryChecked = true;
  };

  const openLockFile = (path: string): { fd: number; stats: Stats } => {
    if (!directoryChecked) checkDirectory();
    try {
      return openChecked(path, OPEN_LOCK_FILE);
    } catch (error) {
      if (errorCode(error) !== 'ENOENT') throw error;
      // The directory was removed since it was checked.
      checkDirectory();
      return openChecked(path, OPEN_LOCK_FILE);
    }
  };

  /** How a wait opens this locker's files: the lock file (always made), and the gate. */
  const filesOf = (path: string, gate: string): FlockFiles => ({
    openTarget: () => openLockFile(path),
    openGate: (create) => openChecked(gate, create ? OPEN_LOCK_FILE : OPEN_EXISTING),
  });

  const locker: FileLocker = {
    name: 'file',
    lockDirectory,
    capabilities: { sharedReads: true, crossProcess: true, excludes: true },
    pathOf,

    async acquire(id: string, mode: LockMode, acquireOptions: AcquireOptions = {}): Promise<Lock> {
      const path = pathOf(id);
      const deadline = acquireOptions.timeout === undefined ? Infinity : Date.now() + acquireOptions.timeout;
      const queued = await queue.acquire(id, mode, acquireOptions);
      let file: { fd: number; stats: Stats };
      try {
        // The lock file is always made, so the wait resolves with a file.
        file = (await flockWaiting(id, path, gateOf(id), mode, deadline, acquireOptions, filesOf(path, gateOf(id))))!;
        const now = Date.now() / 1000;
        futimesSync(file.fd, now, now); // marks the file used, for clean
      } catch (error) {
        await queued.release();
        throw error;
      }
      let held = true;
      const release = async (removeFile: boolean): Promise<void> => {
        if (!held) return;
        held = false;
        try {
          // Only a holder that has the file to itself unlinks it: for a read lock, the upgrade to
          // exclusive fails while another reader holds it (and gives up the shared lock, which we are
          // releasing anyway). Waiters that had it open notice the unlink and lock the new file.
          if (removeFile && (mode === 'write' || tryFlock(file.fd, LOCK_EX))) unlinkIfStillAt(path, file.stats);
        } finally {
          // Closing the only descriptor of the file releases the flock.
          closeSync(file.fd);
          await queued.release();
        }
      };
      const lock: Lock = { id, mode, get held() { return held; }, release: () => release(false) };
      releasesRemovingFile.set(lock, () => release(true));
      return lock;
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
        const lockFile = PERL_LOCK_FILE.test(entry.name);
        if ((lockFile || GATE_FILE.test(entry.name)) && removeIfUnused(join(lockDirectory, entry.name), cutoff) && lockFile) removed++;
      }
      return removed;
    },
  };
  fileLockers.add(locker);
  return locker;
}

/**
 * Unlinks a lock file last used before `cutoff`, holding its exclusive lock; false when in use, gone,
 * or not a regular file (that is left alone).
 */
function removeIfUnused(path: string, cutoff: number): boolean {
  let opened: { fd: number; stats: Stats };
  try {
    opened = openRegularFile(path, OPEN_EXISTING, 0, (kind) => new Error(kind));
  } catch {
    return false;
  }
  const { fd, stats } = opened;
  try {
    if (stats.mtimeMs > cutoff || !tryFlock(fd, LOCK_EX)) return false;
    // Unlink only the very file we hold: another cleaner may have replaced it since we opened it.
    if (!stillAt(path, stats)) return false;
    unlinkSync(path);
    return true;
  } finally {
    closeSync(fd);
  }
}

