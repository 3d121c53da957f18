/**
 * The file backends. `slotFileParts`: tied's own two-slot session files, locked with flock(2) on the
 * session file itself (FileSession, Flex 'SlotFile'). `fileStore` + `fileLocker`: Perl's Store::File
 * layout and Lock::File names (tied/apache File, Flex 'File'). `@tied/lockers/file` re-exports the lockers.
 */
export { fileStore, type FileStore, type FileStoreOptions } from './file/store.js';
export { fileLocker, type FileLocker, type FileLockerOptions } from './file/locker.js';
export {
  slotFileLocker, slotFileParts, slotFileStore, type SlotFileLocker, type SlotFileOptions, type SlotFileStore,
} from './file/slot-files.js';
export { FlockUnavailableError, LockFileError } from './file/errors.js';
