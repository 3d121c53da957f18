import {
  closeSync, constants, fsync, linkSync, lstatSync, mkdirSync, openSync, readSync, renameSync, statSync, unlinkSync, writeSync,
  type Stats,
} from 'node:fs';
import { open as openAsync, opendir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { threadId } from 'node:worker_threads';
import { SessionCorruptError, SessionExistsError, SessionNotFoundError, type Payload, type PurgeOptions, type Store, type StoredSession, type StoredSessionInfo } from '@tied/core';
import { fileAccess } from './access.js';
import { assertPrivateDirectory, createDirectory } from './directory.js';
import { isFileLocker } from './locker.js';
import { assertFileNameId, errorCode, FILE_NAME_ID, PERL_LOCK_FILE } from './names.js';
import { kindOf, openRegularFile } from './open-file.js';

export interface FileStoreOptions {
  /** Where session files live. Created on first use (mode 0700); its parent must exist. */
  directory: string;
  /**
   * Also fsync each written file before it is renamed into place, and the directory after: a saved
   * session then survives a power loss, not only a crash of the process. Off by default, as in Perl.
   */
  fsync?: boolean;
  /**
   * 0 (default): `<directory>/<id>`, Perl's Apache::Session::Store::File layout. 1 or 2: one or two
   * levels of subfolders named by the id's next two characters (`<directory>/ab/cd/abcd…`), so that
   * no folder holds more than a few thousand files with millions of sessions.
   */
  shardDepth?: number;
  /** Mode of session files (default 0o600: sessions hold secrets); folders get it plus search (0o700). */
  mode?: number;
}

/** A file store: the Store role, plus where its files are. */
export interface FileStore extends Store {
  readonly directory: string;
  /** The path of the file that holds session `id`. */
  pathOf(id: string): string;
  list(): AsyncIterable<StoredSessionInfo>;
  purge(options: PurgeOptions): Promise<number>;
}

/** Temporary files start with this; no valid id does, so they are never listed or opened as sessions. */
const TEMP_PREFIX = '.tmp-';

/** A temporary file younger than this may belong to a write in progress; purge leaves it alone. */
const TEMP_FILE_GRACE = 60_000;

/** `purge` reports its progress after this many session files. */
const PROGRESS_EVERY = 1000;

/** The characters a shard folder name keeps from the id; anything else becomes `_`. */
const SHARD_CHARACTER = /[^A-Za-z0-9_-]/g;

let tempCounter = 0;

const fsyncAsync = promisify(fsync);

/**
 * Keeps each session in one file named by its id. A write goes to a temporary file in the same folder
 * that is then renamed over the session file (insert: hard-linked, which fails atomically when the id
 * exists), so a reader or a crash sees the previous version or the new one, never a torn or empty file.
 *
 * Small files are read and written with synchronous system calls: on a local disk each takes a few
 * microseconds, much less than a round trip through libuv's threadpool; the event loop is blocked for
 * that time. fsync (opt-in) and the scans of `list` and `purge` are asynchronous.
 */
export function fileStore(options: FileStoreOptions): FileStore {
  const { directory, fileMode, folderMode, shardDepth, durable } = checkOptions(options);
  let directoryChecked = false;

  const pathOf = (id: string): string => {
    assertFileNameId(id, (shown) => `The file store cannot use ${shown} as a file name`);
    let folder = directory;
    for (let level = 0; level < shardDepth; level++) {
      folder += '/' + id.slice(2 * level, 2 * level + 2).padEnd(2, '_').replace(SHARD_CHARACTER, '_');
    }
    return folder + '/' + id;
  };

  /** Creates the directory on first use and refuses one that others could fill with sessions. */
  const checkDirectory = (): void => {
    if (directoryChecked) return;
    createDirectory(directory, folderMode, 'session');
    assertPrivateDirectory(directory, 'session');
    directoryChecked = true;
  };

  /** fsync of the folder that holds `path`, so that a rename or link in it is on disk. */
  const syncFolderOf = async (path: string): Promise<void> => {
    if (!durable) return;
    const handle = await openAsync(dirname(path), 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  };

  /** Writes `data` to a fresh temporary file next to `path` and returns its name. */
  const writeTemp = async (path: string, data: Payload): Promise<string> => {
    checkDirectory();
    const folder = dirname(path);
    const temp = `${folder}/${TEMP_PREFIX}${process.pid}-${threadId}-${++tempCounter}`;
    const openTemp = () => openSync(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, fileMode);
    let fd: number;
    try {
      fd = openTemp();
    } catch (error) {
      if (errorCode(error) !== 'ENOENT') throw error;
      // The shard folder is made on its first session, or the directory was removed since it was checked.
      directoryChecked = false;
      checkDirectory();
      const created = folder === directory ? undefined : mkdirSync(folder, { recursive: true, mode: folderMode });
      if (created !== undefined && durable) {
        // Each new folder's entry in its parent must reach the disk too.
        for (let made = folder; ; made = dirname(made)) {
          await syncFolderOf(made);
          if (made === created) break;
        }
      }
      fd = openTemp();
    }
    try {
      writeAll(fd, typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
      if (durable) await fsyncAsync(fd);
    } catch (error) {
      closeSync(fd);
      discard(temp);
      throw error;
    }
    closeSync(fd);
    return temp;
  };

  /** Every entry under the directory that is a session or a temporary file, with its stats. */
  async function* entries(folder: string, depth: number): AsyncGenerator<{ name: string; path: string; stats: Stats }> {
    let dir;
    try {
      dir = await opendir(folder);
    } catch (error) {
      if (errorCode(error) === 'ENOENT') return;
      throw error;
    }
    for await (const entry of dir) {
      const path = join(folder, entry.name);
      if (depth < shardDepth) {
        if (entry.isDirectory() && entry.name.length === 2) yield* entries(path, depth + 1);
        continue;
      }
      if (!entry.name.startsWith(TEMP_PREFIX) && (!FILE_NAME_ID.test(entry.name) || PERL_LOCK_FILE.test(entry.name))) continue;
      const stats = lstatSync(path, { throwIfNoEntry: false });
      if (stats?.isFile()) yield { name: entry.name, path, stats };
    }
  }

  const store: FileStore = {
    name: 'file',
    directory,
    capabilities: { binary: true, text: true, updatedAt: true, persistent: true, list: true, purge: true },
    pathOf,

    async insert(id, data) {
      const path = pathOf(id);
      const temp = await writeTemp(path, data);
      try {
        linkSync(temp, path);
      } catch (error) {
        if (errorCode(error) === 'EEXIST') throw new SessionExistsError(id);
        throw error;
      } finally {
        discard(temp);
      }
      await syncFolderOf(path);
    },

    async update(id, data) {
      const path = pathOf(id);
      checkDirectory();
      const found = lstatSync(path, { throwIfNoEntry: false });
      if (!found) throw new SessionNotFoundError(id);
      if (!found.isFile()) throw notASessionFile(path, kindOf(found));
      const temp = await writeTemp(path, data);
      try {
        renameSync(temp, path);
      } catch (error) {
        discard(temp);
        throw describedError(path, error);
      }
      await syncFolderOf(path);
    },

    async materialize(id): Promise<StoredSession> {
      const path = pathOf(id);
      checkDirectory();
      let fd: number;
      let stats: Stats;
      try {
        ({ fd, stats } = openRegularFile(path, constants.O_RDONLY, 0, (kind) => notASessionFile(path, kind)));
      } catch (error) {
        if (errorCode(error) === 'ENOENT') throw new SessionNotFoundError(id);
        throw error;
      }
      try {
        // Session files are replaced, never changed in place, so the size from fstat is final.
        const data = Buffer.allocUnsafe(stats.size);
        let filled = 0;
        while (filled < data.length) {
          const read = readSync(fd, data, filled, data.length - filled, filled);
          if (read === 0) break;
          filled += read;
        }
        return { data: data.subarray(0, filled), updatedAt: stats.mtimeMs };
      } finally {
        closeSync(fd);
      }
    },

    async remove(id) {
      const path = pathOf(id);
      checkDirectory();
      try {
        unlinkSync(path);
      } catch (error) {
        if (errorCode(error) === 'ENOENT') return;
        throw describedError(path, error);
      }
      await syncFolderOf(path);
    },

    async *list(): AsyncGenerator<StoredSessionInfo> {
      for await (const { name, stats } of entries(directory, 0)) {
        if (!name.startsWith(TEMP_PREFIX)) yield { id: name, updatedAt: stats.mtimeMs, size: stats.size };
      }
    },

    /** Removes sessions not saved for `olderThan` ms, and temporary files left behind by crashes. */
    async purge({ olderThan, onProgress }) {
      if (!(olderThan >= 0)) throw new RangeError(`purge needs olderThan >= 0 (ms), got ${olderThan}`);
      const now = Date.now();
      let removed = 0;
      let examined = 0;
      for await (const { name, path, stats } of entries(directory, 0)) {
        const temp = name.startsWith(TEMP_PREFIX);
        if (now - stats.mtimeMs > (temp ? Math.max(olderThan, TEMP_FILE_GRACE) : olderThan)) {
          try {
            unlinkSync(path);
            if (!temp) removed++;
          } catch (error) {
            if (errorCode(error) !== 'ENOENT') throw error;
          }
        }
        if (!temp && ++examined % PROGRESS_EVERY === 0) onProgress?.({ removed, examined });
      }
      onProgress?.({ removed, examined });
      return removed;
    },

    /** With a file locker: an absent session's lock file is removed with its lock (see fileAccess). */
    fuse: (locker) => isFileLocker(locker) ? fileAccess(store, locker) : undefined,
  };
  return store;
}

/** A session file that is not a regular file: tied neither follows nor reads it. */
function notASessionFile(path: string, kind: string): SessionCorruptError {
  return new SessionCorruptError(`The session file ${path} is ${kind}, not a regular file: tied does not follow or read it`);
}

/** A rename or unlink that failed on something other than a session file says what is there. */
function describedError(path: string, error: unknown): unknown {
  const found = lstatSync(path, { throwIfNoEntry: false });
  return found && !found.isFile() ? notASessionFile(path, kindOf(found)) : error;
}

function checkOptions(options: FileStoreOptions) {
  if (typeof options?.directory !== 'string' || options.directory === '') {
    throw new TypeError('fileStore needs a directory (a non-empty path)');
  }
  const { fsync = false, shardDepth = 0, mode = 0o600 } = options;
  if (typeof fsync !== 'boolean') throw new TypeError(`fileStore fsync must be true or false, got ${String(fsync)}`);
  if (shardDepth !== 0 && shardDepth !== 1 && shardDepth !== 2) throw new RangeError(`fileStore shardDepth must be 0, 1 or 2, got ${String(shardDepth)}`);
  if (!Number.isInteger(mode) || mode < 0 || mode > 0o777 || (mode & 0o600) !== 0o600) {
    throw new RangeError(`fileStore mode must be a file mode from 0o600 to 0o777 that lets the owner read and write, got ${String(mode)}`);
  }
  return {
    directory: resolve(options.directory),
    durable: fsync,
    shardDepth,
    fileMode: mode,
    // Folders can be searched by whoever can read the files.
    folderMode: mode | ((mode & 0o444) >> 2),
  };
}

/** Removes a temporary file that is no longer needed; failing that, purge removes it later. */
function discard(temp: string): void {
  try {
    unlinkSync(temp);
  } catch {
    // Keep the error that brought us here (or the success) rather than this one.
  }
}

function writeAll(fd: number, bytes: Uint8Array): void {
  let written = 0;
  while (written < bytes.byteLength) written += writeSync(fd, bytes, written, bytes.byteLength - written);
}
