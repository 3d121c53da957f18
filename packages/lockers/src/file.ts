/** The file lockers live with the file stores in `@tied/stores/file` (one folder per backend). */
export { fileLocker, FlockUnavailableError, LockFileError, type FileLocker, type FileLockerOptions } from '@tied/stores/file';
export { slotFileLocker, type SlotFileLocker, type SlotFileOptions } from '@tied/stores/file';
