import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { errorCode } from './names.js';

/**
 * Creates `directory` (not its parents: a mistyped path should fail, not grow a tree), with one clear
 * error naming it. The store makes its session directory and the locker its lock directory with it.
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
