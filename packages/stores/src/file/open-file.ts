import { closeSync, constants, fstatSync, lstatSync, openSync, type Stats } from 'node:fs';
import { errorCode } from './names.js';

/**
 * Flags that make opening safe in a directory others may write to: the last path component is never
 * followed when it is a symbolic link, and opening a FIFO does not wait for a writer. (Both are 0 on
 * Windows, which has neither.)
 */
export const SAFE_OPEN = (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0);

/** How a file that is not a regular file is named in an error: "a symbolic link", "a FIFO", … */
export function kindOf(stats: Stats): string {
  return stats.isSymbolicLink() ? 'a symbolic link'
    : stats.isDirectory() ? 'a directory'
    : stats.isFIFO() ? 'a FIFO'
    : stats.isSocket() ? 'a socket'
    : stats.isCharacterDevice() || stats.isBlockDevice() ? 'a device'
    : 'not a regular file';
}

/**
 * Opens `path` without following a symbolic link and without blocking on a FIFO, and keeps it open
 * only when it is a regular file. Anything else at the path — link, directory, FIFO, socket, device —
 * is refused through `refuse(kind)` (which returns the error to throw), whether `open` already failed
 * on it (ELOOP, EISDIR, ENXIO…) or `fstat` showed it. Other errors (ENOENT, EACCES…) are thrown as they are.
 */
export function openRegularFile(path: string, flags: number, mode: number, refuse: (kind: string) => Error): { fd: number; stats: Stats } {
  let fd: number;
  try {
    fd = openSync(path, flags | SAFE_OPEN, mode);
  } catch (error) {
    const code = errorCode(error);
    if (code === 'ENOENT' || code === 'EACCES' || code === 'EPERM') throw error;
    const found = lstatSync(path, { throwIfNoEntry: false });
    if (found && !found.isFile()) throw refuse(kindOf(found));
    throw error;
  }
  let stats: Stats;
  try {
    stats = fstatSync(fd);
  } catch (error) {
    closeSync(fd);
    throw error;
  }
  if (!stats.isFile()) {
    closeSync(fd);
    throw refuse(kindOf(stats));
  }
  return { fd, stats };
}

/** True when `path` names the very file `stats` describes (not one put there since it was opened). */
export function stillAt(path: string, stats: Stats): boolean {
  const current = lstatSync(path, { throwIfNoEntry: false });
  return current !== undefined && current.ino === stats.ino && current.dev === stats.dev;
}
