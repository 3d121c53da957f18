/**
 * The four roles behind a tied session. Each is a small interface; a part is a factory that returns
 * a plain object implementing one of them (`memoryStore()`, `fileLocker({...})`, `nanoid()`, ...).
 */

/** What a serializer produces and a store keeps: text or raw bytes. */
export type Payload = string | Uint8Array;

/** A stored session as a store hands it back. */
export interface StoredSession {
  readonly data: Payload;
  /** Milliseconds since the epoch of the last insert/update, when the store keeps it. */
  readonly updatedAt?: number;
}

/** One entry of `Store.list()`. */
export interface StoredSessionInfo {
  readonly id: string;
  readonly updatedAt?: number;
  readonly size?: number;
}

/** What `purge` has done so far, reported to its `onProgress` after each batch and once at the end. */
export interface PurgeProgress {
  /** Sessions removed so far. */
  readonly removed: number;
  /**
   * Sessions looked at so far, removed or kept. A store that selects the expired sessions on its
   * server (MySQL, PostgreSQL) looks at no other: there it equals `removed`.
   */
  readonly examined: number;
}

export interface PurgeOptions {
  /** Remove the sessions not saved for this many milliseconds. */
  readonly olderThan: number;
  /** Called while purge runs, after each batch (a few hundred to a thousand sessions) and once at the end. */
  readonly onProgress?: (progress: PurgeProgress) => void;
}

export interface StoreCapabilities {
  /** Accepts `Uint8Array` payloads (binary serializers). */
  readonly binary: boolean;
  /** Accepts `string` payloads (text serializers). */
  readonly text: boolean;
  /** Largest payload in bytes it holds without truncation; larger ones throw `SessionTooLargeError`. */
  readonly maxPayloadBytes?: number;
  /** Keeps `updatedAt`, so `maxAge` and `purge` work. */
  readonly updatedAt: boolean;
  /** Data outlives the process (false for the memory store). */
  readonly persistent: boolean;
  readonly list: boolean;
  readonly purge: boolean;
}

/**
 * Keeps serialized sessions under their id. Perl's Apache::Session::Store::*.
 * `insert` of an existing id throws `SessionExistsError`; `materialize`/`update` of a missing id
 * throw `SessionNotFoundError`; `remove` of a missing id is not an error.
 */
export interface Store {
  readonly name: string;
  readonly capabilities: StoreCapabilities;
  insert(id: string, data: Payload): Promise<void>;
  update(id: string, data: Payload): Promise<void>;
  materialize(id: string): Promise<StoredSession>;
  remove(id: string): Promise<void>;
  list?(): AsyncIterable<StoredSessionInfo>;
  /**
   * Removes sessions not saved for `olderThan` ms, in batches (a long purge never holds the backend
   * for all of them at once), reporting to `onProgress`; returns how many it removed.
   */
  purge?(options: PurgeOptions): Promise<number>;
  close?(): Promise<void>;
  /**
   * A store and a locker of one backend fuse their calls (see `FusedAccess`). Returns `undefined`
   * when this locker is not one of its backend's; the session then calls the two parts separately.
   */
  fuse?(locker: Locker): FusedAccess | undefined;
}

/**
 * How a session reaches its store while it holds a lock: the one protocol by which a store and a
 * locker of one backend share round trips (lock+read in one, write+unlock in one) and by which every
 * write of a locked session goes through the lock that protects it — on the connection that holds it
 * (SQL) or fenced by its token (Redis). A store returns one from `fuse(locker)`; for any other pair,
 * `separateAccess(store, locker)` calls the two parts one after the other.
 */
export interface FusedAccess {
  /** Acquire the lock and read the session. When missing, the lock is released before throwing. */
  lockAndMaterialize(id: string, mode: LockMode, options: AcquireOptions): Promise<{ lock: Lock; stored: StoredSession }>;
  /** Acquire a write lock on a fresh id and insert it. On `SessionExistsError` the lock is released. */
  lockAndInsert(id: string, data: Payload, options: AcquireOptions): Promise<Lock>;
  /**
   * Write under the held write lock and keep it. When the lock is no longer held, nothing is written
   * and `LockLostError` is thrown.
   */
  updateLocked(lock: Lock, id: string, data: Payload): Promise<void>;
  /**
   * Write (when `data` is given) under the held lock, then release it. The lock is released even
   * when the write fails; a lost lock means nothing was written (`LockLostError`).
   */
  updateAndRelease(lock: Lock, id: string, data: Payload | undefined): Promise<void>;
  /** Remove the session under the held write lock, then release it (released even when removal fails). */
  removeAndRelease(lock: Lock, id: string): Promise<void>;
}

export type LockMode = 'read' | 'write';

export interface AcquireOptions {
  /** Give up after this many ms with `LockTimeoutError`. Undefined: wait as long as it takes. */
  readonly timeout?: number;
  readonly signal?: AbortSignal;
}

export interface LockerCapabilities {
  /** Read locks are shared (several readers at once); false when every lock is exclusive. */
  readonly sharedReads: boolean;
  /** Excludes other processes (false for null and memory lockers). */
  readonly crossProcess: boolean;
  /** Actually excludes anyone (false only for the null locker). */
  readonly excludes: boolean;
}

/** A lock that is held. `release()` is idempotent. */
export interface Lock {
  readonly id: string;
  readonly mode: LockMode;
  /**
   * False once this lock was released (or is known lost). A locker that can tell says so, and
   * `separateAccess` then refuses a write under it with `LockLostError`; undefined: cannot tell.
   */
  readonly held?: boolean;
  release(): Promise<void>;
}

/** Read/write locks per session id. Perl's Apache::Session::Lock::*. */
export interface Locker {
  readonly name: string;
  readonly capabilities: LockerCapabilities;
  acquire(id: string, mode: LockMode, options?: AcquireOptions): Promise<Lock>;
  close?(): Promise<void>;
}

/** Makes new ids and validates ids before anything touches a store. Perl's Generate::*. */
export interface Generator {
  readonly name: string;
  generate(): string;
  /** Throws `InvalidSessionIdError` (with the reason) unless `id` is an id this generator could make. */
  validate(id: unknown): asserts id is string;
}

/** Object ⇄ bytes or text. Perl's Serialize::*. */
export interface Serializer {
  readonly name: string;
  /** What `serialize` returns. */
  readonly output: 'text' | 'binary';
  /** Throws `SerializationError` for a value it cannot hold. */
  serialize(value: Record<string, unknown>): Payload;
  /** Throws `SessionCorruptError` for input that is not a serialized session. Accepts bytes for text serializers. */
  unserialize(data: Payload): Record<string, unknown>;
}
