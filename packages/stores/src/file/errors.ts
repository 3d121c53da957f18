import { TiedError } from '@tied/core';

/**
 * flock(2) cannot be called here: on Windows, which has no flock, or when the koffi package that
 * calls it could not be loaded. The file locker never falls back to a lock that would not exclude
 * flock — that would let a Perl process or another tied process write the same session at once.
 */
export class FlockUnavailableError extends TiedError {
  readonly code = 'ERR_FLOCK_UNAVAILABLE';
}

/**
 * What sits at a lock file's path is not a lock file tied may use: a symbolic link, a directory, a
 * FIFO or another special file, a file of another user, or a file with other hard links. tied does
 * not follow, truncate or lock it; someone may have planted it in a shared lock directory.
 */
export class LockFileError extends TiedError {
  readonly code = 'ERR_LOCK_FILE';
  constructor(readonly path: string, message: string, options?: ErrorOptions) {
    super(message, options);
  }
}
