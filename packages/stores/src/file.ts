/**
 * The file backend: sessions in files (Perl's Store::File layout), locked with flock(2) on Perl's
 * Lock::File names. `@tied/lockers/file` re-exports the locker from here.
 */
export { fileStore, type FileStore, type FileStoreOptions } from './file/store.js';
export { fileLocker, type FileLocker, type FileLockerOptions } from './file/locker.js';
export { FlockUnavailableError, LockFileError } from './file/errors.js';
