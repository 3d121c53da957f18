/** The file locker lives with the file store in `@tied/stores/file` (one folder per backend). */
export { fileLocker, FlockUnavailableError, LockFileError, type FileLocker, type FileLockerOptions } from '@tied/stores/file';
