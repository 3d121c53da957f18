import { mkdirSync, statSync } from 'node:fs';
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

/**
 * Refuses a session or lock directory that others can write to (they could plant or replace sessions
 * and lock files): one writable by everyone without the sticky bit, or one in a shared sticky folder
 * such as /tmp that another user created first. A shared sticky folder itself (/tmp, which Perl uses
 * by default) is accepted.
 */
export function assertPrivateDirectory(directory: string, what: 'session' | 'lock'): void {
  const stats = statSync(directory);
  const refuse = (why: string) => {
    throw Object.assign(new Error(`Refusing the ${what} directory ${directory}: ${why}`), { code: 'EUNSAFEDIR', path: directory });
  };
  if (!stats.isDirectory()) refuse('it is not a directory');
  const STICKY = 0o1000;
  if ((stats.mode & 0o002) !== 0 && (stats.mode & STICKY) === 0) refuse('everyone can write to it');
  const uid = process.getuid?.();
  if (uid === undefined || stats.uid === uid) return;
  const parent = statSync(dirname(directory));
  if ((parent.mode & 0o002) !== 0 && (parent.mode & STICKY) !== 0) refuse(`it is owned by user ${stats.uid}, not ${uid}, in the shared folder ${dirname(directory)}`);
}
