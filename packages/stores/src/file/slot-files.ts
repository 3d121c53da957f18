import { closeSync, constants, fstatSync, fsyncSync, lstatSync, openSync, readSync, renameSync, unlinkSync, writeSync, type Stats } from 'node:fs';
import { opendir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { threadId } from 'node:worker_threads';
import {
  LockLostError, SessionCorruptError, SessionExistsError, SessionNotFoundError, memoryLocker,
  type AcquireOptions, type FusedAccess, type Lock, type Locker, type LockMode, type Payload, type PurgeOptions, type Store, type StoredSession, type StoredSessionInfo,
} from '@tied/core';
import { assertPrivateDirectory, createDirectory } from './directory.js';
import { FlockUnavailableError } from './errors.js';
import { LOCK_EX, tryFlock } from './flock.js';
import { flockWaiting, unlinkIfStillAt, type OpenedFile } from './flock-wait.js';
import { assertFileNameId, errorCode, FILE_NAME_ID, PERL_LOCK_FILE } from './names.js';
import { kindOf, openRegularFile, SAFE_OPEN, stillAt } from './open-file.js';
import { capacityFor, decode, encodeFile, encodeSlot, fits, HEADER_SIZE, newestLength, slotOffset, type SlotState } from './slot-layout.js';

export interface SlotFileOptions {
  /** Where session files live. Created on first use (mode 0700); its parent must exist. */
  directory: string;
  /** fsync each write (and a grown file's folder): a saved session then survives a power loss. Off by default. */
  fsync?: boolean;
  /** Mode of session files (default 0o600: sessions hold secrets). */
  mode?: number;
}

/** The two-slot file store: the Store role, plus where its files are. */
export interface SlotFileStore extends Store {
  readonly directory: string;
  pathOf(id: string): string;
  list(): AsyncIterable<StoredSessionInfo>;
  purge(options: PurgeOptions): Promise<number>;
}

/** The locker half: flock(2) on the session file itself. */
export interface SlotFileLocker extends Locker {
  readonly directory: string;
}

/** A file whose name starts with a dot (a writer's gate, a grown file before its rename) is never a session. */
const GATE_SUFFIX = '.gate';
/** A dot-file younger than this may belong to a write or a wait in progress; purge leaves it alone. */
const DOT_FILE_GRACE = 60_000;
/** `purge` reports its progress after this many session files. */
const PROGRESS_EVERY = 1000;

/** What a held lock knows: its descriptor (which holds the flock), and where the current version is. */
interface Held {
  fd: number;
  stats: Stats;
  readonly path: string;
  slots: SlotState | undefined;
  released: boolean;
}

/** The slot-file lockers, so that a store of the same directory recognizes them in `fuse`. */
const lockerContexts = new WeakMap<Locker, SlotFiles>();
/**
 * Each held lock of a slot-file locker or access, with its state: a session may take a lock from the
 * locker (e.g. to save a session opened readonly) and hand it to the fused access of a store made
 * apart (as Flex makes them), so the state is found through the lock, whoever made it.
 */
const held = new WeakMap<Lock, Held>();

type SlotFiles = ReturnType<typeof slotFiles>;

/**
 * The Node-native file backend: one file per session holding two slots (see slot-layout.ts), locked
 * with flock(2) on the session file's own descriptor — shared to read, exclusive to write — so there
 * is no lock file. The store and its locker share one in-process queue; fused, opening a session is
 * open + flock + pread on one descriptor and saving it pwrite + close.
 */
export function slotFileParts(options: SlotFileOptions): { store: SlotFileStore; locker: SlotFileLocker } {
  const files = slotFiles(options);
  return { store: files.store, locker: files.locker };
}

/** The store alone (with another backend's locker, or none). */
export function slotFileStore(options: SlotFileOptions): SlotFileStore {
  return slotFiles(options).store;
}

/** The locker alone: it locks the session files of `directory` (an absent session's file is removed at release). */
export function slotFileLocker(options: SlotFileOptions): SlotFileLocker {
  return slotFiles(options).locker;
}

function slotFiles(options: SlotFileOptions) {
  const { directory, fileMode, durable } = checkOptions(options);
  const queue = memoryLocker();
  let directoryChecked = false;
  let growCounter = 0;

  const pathOf = (id: string): string => {
    assertFileNameId(id, (shown) => `The file store cannot use ${shown} as a file name`);
    return `${directory}/${id}`;
  };
  const checkDirectory = (): void => {
    if (directoryChecked) return;
    createDirectory(directory, fileMode | ((fileMode & 0o444) >> 2), 'session');
    assertPrivateDirectory(directory, 'session');
    directoryChecked = true;
  };

  const open = (path: string, flags: number): { fd: number; stats: Stats } => {
    checkDirectory();
    return openRegularFile(path, flags, fileMode, (kind) => notASessionFile(path, kind));
  };

  const readAt = (fd: number, position: number, length: number): Buffer => {
    const bytes = Buffer.allocUnsafe(length);
    return bytes.subarray(0, readSync(fd, bytes, 0, length, position));
  };

  /** The whole file through `fd` (its size taken now, under the lock). */
  const readAll = (fd: number, size: number): Buffer => {
    const bytes = Buffer.allocUnsafe(size);
    let filled = 0;
    while (filled < size) {
      const read = readSync(fd, bytes, filled, size - filled, filled);
      if (read === 0) break;
      filled += read;
    }
    return bytes.subarray(0, filled);
  };

  const readSession = (id: string, path: string, fd: number, size: number) => {
    const found = decode(readAll(fd, size));
    if (found.kind === 'foreign' || found.kind === 'corrupt') {
      throw new SessionCorruptError(`The session file ${path} is not readable as a two-slot session file: ${found.why}`);
    }
    return found.kind === 'missing' ? undefined : found;
  };

  const pwrite = (fd: number, bytes: Buffer, position: number): void => {
    let written = 0;
    while (written < bytes.length) written += writeSync(fd, bytes, written, bytes.length - written, position + written);
    if (durable) fsyncSync(fd);
  };

  /** Writes the first version into an empty file: the slots first, the header last, so a crash between reads as missing. */
  const writeFirst = (fd: number, payload: Buffer): SlotState => {
    const capacity = capacityFor(payload.length);
    const file = encodeFile(capacity, 1, Date.now(), payload);
    pwrite(fd, file.subarray(HEADER_SIZE), HEADER_SIZE);
    pwrite(fd, file.subarray(0, HEADER_SIZE), 0);
    if (durable) syncDirectory(); // the new file's name, too
    return { capacity, current: 0, sequence: 1 };
  };

  /**
   * Writes a new version. It goes to the slot not holding the current one; a payload too large for
   * the slots makes a new file with larger slots that is renamed over the old one — flocked before
   * the rename, so the lock moves with it: `grown` is the new file's descriptor, which holds it.
   */
  const writeNext = (id: string, target: { fd: number; path: string }, state: SlotState, payload: Buffer): { state: SlotState; grown?: { fd: number; stats: Stats } } => {
    const sequence = state.sequence + 1;
    if (fits(state.capacity, payload.length)) {
      const slot = 1 - state.current;
      pwrite(target.fd, encodeSlot(sequence, Date.now(), payload), slotOffset(state.capacity, slot));
      return { state: { capacity: state.capacity, current: slot, sequence } };
    }
    const capacity = capacityFor(payload.length);
    const temp = `${directory}/.${id}.grow-${process.pid}-${threadId}-${++growCounter}`;
    const fd = openSync(temp, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL, fileMode);
    try {
      flockIfAvailable(fd); // nobody else knows this file yet: taken at once
      pwrite(fd, encodeFile(capacity, sequence, Date.now(), payload), 0);
      renameSync(temp, target.path);
    } catch (error) {
      closeSync(fd);
      try { unlinkSync(temp); } catch { /* purge removes it */ }
      throw error;
    }
    if (durable) syncDirectory();
    return { state: { capacity, current: 0, sequence }, grown: { fd, stats: fstatSync(fd) } };
  };

  const syncDirectory = (): void => {
    const fd = openSync(directory, constants.O_RDONLY);
    try { fsyncSync(fd); } finally { closeSync(fd); }
  };

  /** True when the file holds no session (empty, or an insert that crashed before its header). */
  const holdsNothing = (fd: number): boolean => {
    const size = fstatSync(fd).size;
    return size === 0 || decode(readAll(fd, Math.min(size, HEADER_SIZE))).kind === 'missing';
  };

  /**
   * Opens and flocks the session file. `create`: make it (empty) when absent; otherwise an absent
   * file resolves undefined with nothing locked. A waiting writer holds the gate `.<id>.gate`.
   */
  const lockFile = (id: string, path: string, mode: LockMode, create: boolean, deadline: number, options: AcquireOptions): Promise<OpenedFile | undefined> => {
    const flags = (mode === 'read' && !create ? constants.O_RDONLY : constants.O_RDWR) | (create ? constants.O_CREAT : 0);
    const gate = `${directory}/.${id}${GATE_SUFFIX}`;
    return flockWaiting(id, path, gate, mode, deadline, options, {
      openTarget: () => {
        try {
          return open(path, flags);
        } catch (error) {
          if (!create && errorCode(error) === 'ENOENT') return undefined;
          throw error;
        }
      },
      openGate: (createGate) => open(gate, createGate ? constants.O_RDWR | constants.O_CREAT : constants.O_RDONLY),
    });
  };

  /** Takes the in-process queue, then the file's flock; the queue is released when the flock cannot be had. */
  const lock = async (id: string, mode: LockMode, create: boolean, options: AcquireOptions): Promise<{ lock: Lock; state: Held } | undefined> => {
    const path = pathOf(id);
    const deadline = options.timeout === undefined ? Infinity : Date.now() + options.timeout;
    const queued = await queue.acquire(id, mode, options);
    let file: { fd: number; stats: Stats } | undefined;
    try {
      file = await lockFile(id, path, mode, create, deadline, options);
    } catch (error) {
      await queued.release();
      throw error;
    }
    if (!file) {
      await queued.release();
      return undefined;
    }
    const state: Held = { fd: file.fd, stats: file.stats, path, slots: undefined, released: false };
    const lock: Lock = {
      id,
      mode,
      release: async () => {
        if (state.released) return;
        state.released = true;
        try {
          // A file that holds no session (a lock taken on an absent id) is not left behind; a reader
          // removes it only when it can upgrade, i.e. no one else has it locked. A lock that read or
          // wrote a version (`slots`) knows the session is there.
          if (!state.slots && holdsNothing(state.fd) && (mode === 'write' || tryFlock(state.fd, LOCK_EX))) unlinkIfStillAt(path, state.stats);
        } catch {
          // Tidying only: the release itself must not fail.
        } finally {
          closeSync(state.fd);
          await queued.release();
        }
      },
    };
    held.set(lock, state);
    return { lock, state };
  };

  /** The state of a lock this store's locker holds; LockLostError once it is released. */
  const heldState = (lock: Lock): Held => {
    const state = held.get(lock);
    if (!state || state.released) throw new LockLostError(lock.id, `The lock on session ${lock.id} is not held (released already, or not a lock of this store's locker)`);
    return state;
  };

  const toBuffer = (data: Payload): Buffer => typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data.buffer, data.byteOffset, data.byteLength);

  const updateHeld = (id: string, state: Held, data: Payload): void => {
    if (!state.slots) {
      const found = readSession(id, state.path, state.fd, fstatSync(state.fd).size);
      if (!found) throw new SessionNotFoundError(id);
      state.slots = found.state;
    }
    const written = writeNext(id, state, state.slots, toBuffer(data));
    state.slots = written.state;
    if (written.grown) {
      // The lock now lives on the grown file; closing the old one wakes its waiters, who find it replaced.
      const old = state.fd;
      state.fd = written.grown.fd;
      state.stats = written.grown.stats;
      closeSync(old);
    }
  };

  const access: FusedAccess = {
    async lockAndMaterialize(id, mode, options) {
      const taken = await lock(id, mode, false, options);
      if (!taken) throw new SessionNotFoundError(id);
      const { lock: held, state } = taken;
      try {
        // The size seen at open may predate an insert that finished while we waited.
        const size = state.stats.size === 0 ? fstatSync(state.fd).size : state.stats.size;
        const found = readSession(id, state.path, state.fd, size);
        if (!found) throw new SessionNotFoundError(id);
        state.slots = found.state;
        return { lock: held, stored: { data: found.data, updatedAt: found.updatedAt } };
      } catch (error) {
        await held.release();
        throw error;
      }
    },
    async lockAndInsert(id, data, options) {
      const taken = await lock(id, 'write', true, options);
      const { lock: held, state } = taken!;
      try {
        if (!holdsNothing(state.fd)) throw new SessionExistsError(id);
        state.slots = writeFirst(state.fd, toBuffer(data));
      } catch (error) {
        await held.release();
        throw error;
      }
      return held;
    },
    async updateLocked(lock, id, data) {
      updateHeld(id, heldState(lock), data);
    },
    async updateAndRelease(lock, id, data) {
      try {
        if (data !== undefined) updateHeld(id, heldState(lock), data);
      } finally {
        await lock.release();
      }
    },
    async removeAndRelease(lock, id) {
      try {
        const state = heldState(lock);
        unlinkIfStillAt(state.path, state.stats);
        if (durable) syncDirectory();
      } finally {
        await lock.release();
      }
    },
  };

  const locker: SlotFileLocker = {
    name: 'slot-file',
    directory,
    capabilities: { sharedReads: true, crossProcess: true, excludes: true },
    async acquire(id, mode, acquireOptions = {}) {
      return (await lock(id, mode, true, acquireOptions))!.lock;
    },
  };

  /** Opens an existing session file for the store used without its locker. */
  const openExisting = (id: string, path: string, flags: number): { fd: number; stats: Stats } => {
    try {
      return open(path, flags);
    } catch (error) {
      if (errorCode(error) === 'ENOENT') throw new SessionNotFoundError(id);
      throw error;
    }
  };

  /** Every session-named regular file in the directory, with its stats. Dot-files go to `dotFile`. */
  async function* entries(dotFile?: (path: string, stats: Stats) => void): AsyncGenerator<{ name: string; path: string; stats: Stats }> {
    let dir;
    try {
      dir = await opendir(directory, { bufferSize: 256 });
    } catch (error) {
      if (errorCode(error) === 'ENOENT') return;
      throw error;
    }
    for await (const entry of dir) {
      const path = join(directory, entry.name);
      if (entry.name.startsWith('.')) {
        if (dotFile) {
          const stats = lstatSync(path, { throwIfNoEntry: false });
          if (stats?.isFile()) dotFile(path, stats);
        }
        continue;
      }
      if (!FILE_NAME_ID.test(entry.name) || PERL_LOCK_FILE.test(entry.name)) continue;
      const stats = lstatSync(path, { throwIfNoEntry: false });
      if (stats?.isFile()) yield { name: entry.name, path, stats };
    }
  }

  const store: SlotFileStore = {
    name: 'slot-file',
    directory,
    capabilities: { binary: true, text: true, updatedAt: true, persistent: true, list: true, purge: true },
    pathOf,

    // Used without its own locker, the store writes the same layout; whatever locker is used excludes writers.
    async insert(id, data) {
      const path = pathOf(id);
      const { fd } = open(path, constants.O_RDWR | constants.O_CREAT);
      try {
        if (!holdsNothing(fd)) throw new SessionExistsError(id);
        writeFirst(fd, toBuffer(data));
      } finally {
        closeSync(fd);
      }
    },

    async update(id, data) {
      const path = pathOf(id);
      const file = openExisting(id, path, constants.O_RDWR);
      try {
        const found = readSession(id, path, file.fd, file.stats.size);
        if (!found) throw new SessionNotFoundError(id);
        const written = writeNext(id, { fd: file.fd, path }, found.state, toBuffer(data));
        if (written.grown) closeSync(written.grown.fd);
      } finally {
        closeSync(file.fd);
      }
    },

    async materialize(id): Promise<StoredSession> {
      const path = pathOf(id);
      const { fd, stats } = openExisting(id, path, constants.O_RDONLY);
      try {
        const found = readSession(id, path, fd, stats.size);
        if (!found) throw new SessionNotFoundError(id);
        return { data: found.data, updatedAt: found.updatedAt };
      } finally {
        closeSync(fd);
      }
    },

    async remove(id) {
      const path = pathOf(id);
      checkDirectory();
      try {
        unlinkSync(path);
        if (durable) syncDirectory();
      } catch (error) {
        if (errorCode(error) === 'ENOENT') return;
        const found = lstatSync(path, { throwIfNoEntry: false });
        throw found && !found.isFile() ? notASessionFile(path, kindOf(found)) : error;
      }
    },

    /**
     * Sessions with the file's mtime (the time of its last write) and the newest version's size, read
     * from the slot headers (no payload is read). Files that hold no session are left out.
     */
    async *list() {
      for await (const { name, path, stats } of entries()) {
        if (stats.size === 0) continue;
        let size: number | undefined;
        try {
          const { fd } = openRegularFile(path, constants.O_RDONLY, 0, (kind) => new Error(kind));
          try {
            size = newestLength((position, length) => readAt(fd, position, length));
          } finally {
            closeSync(fd);
          }
        } catch {
          continue; // removed or replaced meanwhile
        }
        if (size !== undefined) yield { id: name, updatedAt: stats.mtimeMs, size };
      }
    },

    /**
     * Removes sessions whose file was not written for `olderThan` ms, judged by the mtime without
     * reading the file. Each is locked exclusively without waiting first: a session someone holds is
     * in use and left alone. Gates and grown files left by crashed processes go too.
     */
    async purge({ olderThan, onProgress }) {
      if (!(olderThan >= 0)) throw new RangeError(`purge needs olderThan >= 0 (ms), got ${olderThan}`);
      const cutoff = Date.now() - olderThan;
      let removed = 0;
      let examined = 0;
      const removeDotFile = (path: string, stats: Stats) => {
        if (stats.mtimeMs <= Date.now() - Math.max(olderThan, DOT_FILE_GRACE)) removeIfUnused(path, Infinity);
      };
      for await (const { path, stats } of entries(removeDotFile)) {
        if (stats.mtimeMs <= cutoff && removeIfUnused(path, cutoff)) removed++;
        if (++examined % PROGRESS_EVERY === 0) onProgress?.({ removed, examined });
      }
      onProgress?.({ removed, examined });
      return removed;
    },

    // Any slot-file locker of this directory (Flex makes the store and the locker apart) fuses.
    fuse: (other) => lockerContexts.get(other)?.store.directory === directory ? access : undefined,
  };

  const context = { store, locker, access };
  lockerContexts.set(locker, context);
  return context;
}

/** Unlinks a file last written at or before `cutoff` that no one holds; false when in use, newer, gone or replaced. */
function removeIfUnused(path: string, cutoff: number): boolean {
  let fd: number;
  try {
    // Not openRegularFile: the fstat under the lock tells a regular file too, one system call fewer per file.
    fd = openSync(path, constants.O_RDONLY | SAFE_OPEN);
  } catch {
    return false;
  }
  try {
    if (!flockIfAvailable(fd)) return false;
    // Written between the scan and the lock: no longer expired.
    const stats = fstatSync(fd);
    if (!stats.isFile() || stats.mtimeMs > cutoff || !stillAt(path, stats)) return false;
    unlinkSync(path);
    return true;
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return false;
    throw error;
  } finally {
    closeSync(fd);
  }
}

/**
 * An exclusive flock without waiting; true without one where flock cannot be called (Windows): the
 * store alone, with another backend's locker, still grows files and purges there.
 */
function flockIfAvailable(fd: number): boolean {
  try {
    return tryFlock(fd, LOCK_EX);
  } catch (error) {
    if (error instanceof FlockUnavailableError) return true;
    throw error;
  }
}

function notASessionFile(path: string, kind: string): SessionCorruptError {
  return new SessionCorruptError(`The session file ${path} is ${kind}, not a regular file: tied does not follow or read it`);
}

function checkOptions(options: SlotFileOptions) {
  if (typeof options?.directory !== 'string' || options.directory === '') {
    throw new TypeError('slotFileParts needs a directory (a non-empty path)');
  }
  const { fsync = false, mode = 0o600 } = options;
  if (typeof fsync !== 'boolean') throw new TypeError(`slotFileParts fsync must be true or false, got ${String(fsync)}`);
  if (!Number.isInteger(mode) || mode < 0 || mode > 0o777 || (mode & 0o600) !== 0o600) {
    throw new RangeError(`slotFileParts mode must be a file mode from 0o600 to 0o777 that lets the owner read and write, got ${String(mode)}`);
  }
  return { directory: resolve(options.directory), durable: fsync, fileMode: mode };
}

