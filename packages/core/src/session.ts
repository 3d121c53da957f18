import type { AcquireOptions, FusedAccess, Generator, Lock, LockMode, Locker, Payload, Serializer, Store } from './roles.js';
import {
  ReadonlySessionError,
  SerializationError,
  SessionCorruptError,
  SessionExistsError,
  SessionNotFoundError,
  SessionReleasedError,
  TiedError,
} from './errors.js';

/** The data a session holds when its type is not given. */
export type SessionData = Record<string, any>;

/** A tied session: your data plus the read-only `_session_id`, disposable with `await using`. */
export type Session<T extends object = SessionData> = T & { readonly _session_id: string } & AsyncDisposable;

export interface OpenOptions {
  /**
   * true (default): a write lock from open to release, so concurrent openers of one id take turns and
   * no update is lost. false: Perl's classic mode, a read lock while loading and a write lock while
   * saving; concurrent writers can then overwrite each other.
   */
  transaction?: boolean;
  /** A shared lock for the whole session; writes throw `ReadonlySessionError`; never saved. */
  readonly?: boolean;
  /** Milliseconds to wait for a lock before `LockTimeoutError`. Default: wait as long as it takes. */
  lockTimeout?: number;
  signal?: AbortSignal;
  /**
   * 'top-level' (default, Apache::Session): only top-level set/delete marks the session modified.
   * 'deep': at release, compare the serialized bytes with those loaded and save when they differ.
   */
  changeDetection?: 'top-level' | 'deep';
  /** A session not saved for longer than this many ms is treated as missing, and removed. */
  maxAge?: number;
  /**
   * A new session only: its id is generated at once, but nothing is stored and no lock is taken until
   * it is modified and released (or saved); released unmodified, it leaves no trace. For web requests
   * that may never write to their session.
   */
  lazy?: boolean;
  /** A new session only: create it under this id (validated first) instead of a generated one. */
  id?: string;
}

/** The open options by name, with the check each value must pass. */
const OPEN_OPTION_CHECKS: Readonly<Record<keyof OpenOptions, (value: unknown) => boolean>> = {
  transaction: (value) => typeof value === 'boolean',
  readonly: (value) => typeof value === 'boolean',
  lockTimeout: (value) => typeof value === 'number' && value >= 0 && value <= 2 ** 31 - 1,
  signal: (value) => value instanceof AbortSignal,
  changeDetection: (value) => value === 'top-level' || value === 'deep',
  maxAge: (value) => typeof value === 'number' && value > 0,
  lazy: (value) => typeof value === 'boolean',
  id: (value) => typeof value === 'string',
};

/** The checks by name in a Map, so that a name such as `toString` is not found on Object.prototype. */
const CHECK_OF_OPTION: ReadonlyMap<string, (value: unknown) => boolean> = new Map(Object.entries(OPEN_OPTION_CHECKS));

/** The names of every open option, for callers that sort arguments into open options and others. */
export const OPEN_OPTION_NAMES: ReadonlySet<string> = new Set(CHECK_OF_OPTION.keys());

/** Refuses misspelt or unknown open options and values of the wrong kind, naming what is accepted. */
export function checkOpenOptions(options: object): asserts options is OpenOptions {
  for (const name of Object.keys(options)) {
    const check = CHECK_OF_OPTION.get(name);
    if (check === undefined) {
      throw new TypeError(`Unknown open option "${name}"; the open options are ${[...OPEN_OPTION_NAMES].join(', ')}`);
    }
    const value: unknown = (options as Record<string, unknown>)[name];
    if (value !== undefined && !check(value)) {
      throw new TypeError(`Open option ${name} has an invalid value: ${describe(value)}`);
    }
  }
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value);
  return typeof value;
}

export interface SessionParts {
  store: Store;
  locker: Locker;
  generator: Generator;
  serializer: Serializer;
}

/** What `tied(session)` returns: Perl's `tied(%session)`. */
export interface SessionHandle {
  readonly id: string;
  /** Created by this open (inserted at open, as Perl does, unless opened `lazy`). */
  readonly isNew: boolean;
  /** In the store: false for a `lazy` session until a save or release inserted it. */
  readonly isStored: boolean;
  /** A top-level write happened since the last save. */
  readonly isModified: boolean;
  readonly isDeleted: boolean;
  readonly isReleased: boolean;
  readonly isReadonly: boolean;
  /** Writes the session now and keeps the lock. */
  save(): Promise<void>;
  /**
   * Saves when modified (unless `{ save: false }`: the changes since the last save are discarded),
   * then releases every lock. Idempotent.
   */
  release(options?: { save?: boolean }): Promise<void>;
  /** Releases every lock without saving: `release({ save: false })`. */
  discard(): Promise<void>;
  /** Removes the stored session and releases it. */
  delete(): Promise<void>;
  /** Sets top-level `_session_timestamp` to `Date.now()`, which forces a save at release. */
  touch(): void;
}

/**
 * The key under which a session's Proxy hands out its handle. It is private to this module, so only
 * a session answers to it; a WeakMap from Proxy to handle costs several µs of GC per session opened.
 */
const HANDLE = Symbol('tied handle');

/** Perl's `tied(%session)`: the handle behind a session, `undefined` for anything else. */
export function tied<T extends object>(session: Session<T>): SessionHandle;
export function tied(value: unknown): SessionHandle | undefined;
export function tied(value: unknown): SessionHandle | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  let handle: unknown;
  try {
    handle = (value as Record<symbol, unknown>)[HANDLE];
  } catch {
    return undefined; // a revoked Proxy, or someone else's Proxy whose get trap throws
  }
  // Not an object whose prototype, or a Proxy whose target, is a session.
  return handle instanceof SessionState && handle.proxy === value ? handle : undefined;
}

/** The Apache::Session `$session{TIMESTAMP} = time` idiom: marks the session modified so it is saved. */
export function touch(session: object): void {
  const handle = tied(session);
  if (!handle) throw new TypeError('touch() expects a tied session');
  handle.touch();
}

/** How many fresh ids `create` tries before giving up on insert collisions. */
const MAX_ID_ATTEMPTS = 10;

/**
 * The open options as one open uses them, read once when it starts: a caller may reuse (and change)
 * its options object while the open waits for its lock. One shape for every open.
 */
interface OpenPlan {
  readonly transaction: boolean;
  readonly readonly: boolean;
  readonly deep: boolean;
  readonly maxAge: number | undefined;
  readonly lazy: boolean;
  /** The `id` option: the id a new session is created under. */
  readonly newId: string | undefined;
  readonly acquire: AcquireOptions;
}

/** The acquire options of every open without `lockTimeout` or `signal`: shared, never changed. */
const NO_WAIT_LIMITS: AcquireOptions = Object.freeze({});

function planOf(options: OpenOptions): OpenPlan {
  const { lockTimeout, signal } = options;
  return {
    transaction: options.transaction !== false,
    readonly: options.readonly === true,
    deep: options.changeDetection === 'deep',
    maxAge: options.maxAge,
    lazy: options.lazy === true,
    newId: options.id,
    acquire: lockTimeout === undefined && signal === undefined ? NO_WAIT_LIMITS : { timeout: lockTimeout, signal },
  };
}

/**
 * Opens (id given) or creates (no id) a session with these parts. Used by flavors. Not an async
 * function: it hands back the promise of `create` or `restore` as it is, a turn sooner.
 */
export function openWith<T extends object>(
  parts: SessionParts,
  access: FusedAccess,
  id: unknown,
  options: OpenOptions = {},
): Promise<Session<T>> {
  try {
    checkOpenOptions(options);
    const plan = planOf(options);
    plan.acquire.signal?.throwIfAborted();
    if (id === undefined || id === null) return create<T>(parts, access, plan);
    if (plan.lazy || plan.newId !== undefined) throw new TypeError('The open options lazy and id are for a new session; do not pass an id to open as well');
    parts.generator.validate(id);
    return restore<T>(parts, access, id, plan);
  } catch (error) {
    return Promise.reject(error);
  }
}

async function create<T extends object>(parts: SessionParts, access: FusedAccess, plan: OpenPlan): Promise<Session<T>> {
  if (plan.readonly) throw new TypeError('A new session cannot be opened readonly');
  if (plan.newId !== undefined) parts.generator.validate(plan.newId);
  for (let attempt = 1; ; attempt++) {
    const id = plan.newId ?? parts.generator.generate();
    const data: SessionData = { _session_id: id };
    const bytes = serialize(parts.serializer, data);
    if (plan.lazy) return new SessionState(parts, access, id, data, bytes, plan, new HeldLock(id), true, false).proxy as Session<T>;
    try {
      const lock = await access.lockAndInsert(id, bytes, plan.acquire);
      const state = new SessionState(parts, access, id, data, bytes, plan, new HeldLock(id, lock), true, true);
      if (!plan.transaction) await state.dropLock();
      return state.proxy as Session<T>;
    } catch (error) {
      if (!(error instanceof SessionExistsError) || plan.newId !== undefined || attempt === MAX_ID_ATTEMPTS) throw error;
    }
  }
}

async function restore<T extends object>(parts: SessionParts, access: FusedAccess, id: string, plan: OpenPlan): Promise<Session<T>> {
  const { maxAge } = plan;
  if (maxAge !== undefined && !parts.store.capabilities.updatedAt) {
    throw new TypeError(`maxAge needs a store that keeps updatedAt; the ${parts.store.name} store does not`);
  }
  const mode: LockMode = plan.readonly || !plan.transaction ? 'read' : 'write';
  const { lock, stored } = await access.lockAndMaterialize(id, mode, plan.acquire);
  if (maxAge !== undefined && stored.updatedAt !== undefined && Date.now() - stored.updatedAt > maxAge) {
    // Expired: removed under the lock that was just taken — or, for a read lock, under a write lock.
    if (mode === 'write') {
      await access.removeAndRelease(lock, id);
    } else {
      await lock.release();
      await parts.locker.acquire(id, 'write', plan.acquire).then((writeLock) => access.removeAndRelease(writeLock, id));
    }
    throw new SessionNotFoundError(id);
  }
  let data: SessionData;
  try {
    data = unserialize(parts.serializer, id, stored.data);
  } catch (error) {
    await lock.release();
    throw error;
  }
  // The id under which it is stored is the truth, whatever the stored hash says.
  data._session_id = id;
  const state = new SessionState(parts, access, id, data, stored.data, plan, new HeldLock(id, lock), false, true);
  if (!plan.transaction && !plan.readonly) await state.dropLock();
  return state.proxy as Session<T>;
}

function serialize(serializer: Serializer, data: SessionData): Payload {
  try {
    return serializer.serialize(data);
  } catch (error) {
    if (error instanceof TiedError) throw error;
    throw new SerializationError(`The ${serializer.name} serializer cannot hold this session: ${(error as Error).message}`, { cause: error });
  }
}

function unserialize(serializer: Serializer, id: string, payload: Payload): SessionData {
  try {
    return serializer.unserialize(payload);
  } catch (error) {
    if (error instanceof TiedError) throw error;
    throw new SessionCorruptError(`Session ${id} could not be read by the ${serializer.name} serializer: ${(error as Error).message}`, { cause: error });
  }
}

function samePayload(a: Payload, b: Payload): boolean {
  if (typeof a === 'string' && typeof b === 'string') return a === b;
  return Buffer.from(a).equals(Buffer.from(b));
}

/**
 * The lock a session holds, kept apart from the session so that a session dropped without release
 * can still be found and unlocked after it was garbage-collected (see `abandoned`).
 */
class HeldLock {
  constructor(readonly id: string, public lock?: Lock) {}

  take(): Lock | undefined {
    const lock = this.lock;
    this.lock = undefined;
    return lock;
  }
}

let warnedAbandoned = false;

/** Frees the lock of a session that was garbage-collected without release; warns once per process. */
const abandoned = new FinalizationRegistry<HeldLock>((held) => {
  const lock = held.take();
  if (!lock) return;
  if (!warnedAbandoned) {
    warnedAbandoned = true;
    process.emitWarning(`Session ${held.id} was garbage-collected without release(); its lock was freed and its unsaved changes discarded. Release every session (Flavor.with, try/finally or await using).`, { code: 'TIED_SESSION_ABANDONED' });
  }
  lock.release().catch(() => {});
});

/** The status machine behind one open session and the Proxy that records its top-level writes. */
class SessionState implements SessionHandle {
  readonly proxy: object;
  /** Set by the Proxy's traps on a top-level write. */
  modified = false;
  private deleted = false;
  private released = false;
  private releasing: Promise<void> | undefined;

  constructor(
    private readonly parts: SessionParts,
    private readonly access: FusedAccess,
    readonly id: string,
    private readonly data: SessionData,
    /** The bytes as last loaded or saved, for `changeDetection: 'deep'`. */
    private savedPayload: Payload,
    private readonly plan: OpenPlan,
    /** Held from open to release, except in `transaction: false` mode between load and save. */
    private readonly held: HeldLock,
    readonly isNew: boolean,
    private stored: boolean,
  ) {
    this.proxy = new Proxy(data, new SessionTraps(this));
    // Only a session that holds a lock needs watching (a lazy one is watched once its save locks it).
    if (held.lock) abandoned.register(this.proxy, held, held);
  }

  get isModified(): boolean { return this.modified; }
  get isDeleted(): boolean { return this.deleted; }
  get isReleased(): boolean { return this.released; }
  get isReadonly(): boolean { return this.plan.readonly; }
  get isStored(): boolean { return this.stored; }

  touch(): void {
    this.assertWritable();
    this.data._session_timestamp = Date.now();
    this.modified = true;
  }

  async save(): Promise<void> {
    this.assertWritable();
    const payload = serialize(this.parts.serializer, this.data);
    if (!this.stored) {
      // A lazy session is inserted by its first save, which takes the lock it then holds.
      this.held.lock = await this.access.lockAndInsert(this.id, payload, this.plan.acquire);
      abandoned.register(this.proxy, this.held, this.held);
      this.stored = true;
    } else if (this.held.lock) {
      await this.access.updateLocked(this.held.lock, this.id, payload);
    } else {
      const lock = await this.parts.locker.acquire(this.id, 'write', this.plan.acquire);
      await this.access.updateAndRelease(lock, this.id, payload);
    }
    this.savedPayload = payload;
    this.modified = false;
  }

  release(options?: { save?: boolean }): Promise<void> {
    this.releasing ??= this.finish(options?.save !== false);
    return this.releasing;
  }

  discard(): Promise<void> {
    return this.release({ save: false });
  }

  async delete(): Promise<void> {
    this.assertWritable();
    this.deleted = true;
    this.released = true;
    this.releasing = Promise.resolve();
    abandoned.unregister(this.held);
    if (!this.stored) return;
    const lock = this.held.take() ?? await this.parts.locker.acquire(this.id, 'write', this.plan.acquire);
    await this.access.removeAndRelease(lock, this.id);
  }

  /** Lets go of the lock between load and save (`transaction: false`). */
  async dropLock(): Promise<void> {
    await this.held.take()?.release();
  }

  private async finish(save: boolean): Promise<void> {
    this.released = true;
    abandoned.unregister(this.held);
    let payload: Payload | undefined;
    try {
      payload = save ? this.pendingPayload() : undefined;
    } catch (error) {
      await this.dropLock();
      throw error;
    }
    if (!this.stored) {
      // A lazy session: stored only when it was written to.
      if (payload === undefined) return;
      const lock = await this.access.lockAndInsert(this.id, payload, this.plan.acquire);
      this.stored = true;
      return lock.release();
    }
    let lock = this.held.take();
    if (!lock) {
      if (payload === undefined) return;
      lock = await this.parts.locker.acquire(this.id, 'write', this.plan.acquire);
    }
    await this.access.updateAndRelease(lock, this.id, payload);
  }

  /** The bytes to write at release, or undefined when nothing needs saving. */
  private pendingPayload(): Payload | undefined {
    if (this.plan.readonly || this.deleted) return undefined;
    if (this.plan.deep) {
      const payload = serialize(this.parts.serializer, this.data);
      return samePayload(payload, this.savedPayload) ? undefined : payload;
    }
    return this.modified ? serialize(this.parts.serializer, this.data) : undefined;
  }

  assertUsable(): void {
    if (this.released) throw new SessionReleasedError(this.id);
  }

  assertWritable(): void {
    this.assertUsable();
    if (this.plan.readonly) throw new ReadonlySessionError(this.id);
  }

  assertKeyWritable(key: string | symbol): void {
    this.assertWritable();
    if (key === '_session_id') throw new TypeError('_session_id is read-only');
  }
}

/**
 * The Proxy's traps: they record top-level writes on the state and refuse use after release. One
 * object per session (its methods are shared on the prototype), as sessions are opened per request.
 */
class SessionTraps implements ProxyHandler<SessionData> {
  constructor(private readonly state: SessionState) {}

  get(target: SessionData, key: string | symbol): unknown {
    // Symbols are never session data (no serializer holds them); they stay readable after release
    // so that `await using`, util.inspect and test matchers keep working.
    if (typeof key === 'symbol') {
      if (key === HANDLE) return this.state;
      return key === Symbol.asyncDispose ? this.dispose : Reflect.get(target, key);
    }
    this.state.assertUsable();
    return target[key];
  }

  set(target: SessionData, key: string | symbol, value: unknown): boolean {
    this.state.assertKeyWritable(key);
    this.state.modified = true;
    return Reflect.set(target, key, value);
  }

  deleteProperty(target: SessionData, key: string | symbol): boolean {
    this.state.assertKeyWritable(key);
    this.state.modified = true;
    return Reflect.deleteProperty(target, key);
  }

  defineProperty(target: SessionData, key: string | symbol, descriptor: PropertyDescriptor): boolean {
    this.state.assertKeyWritable(key);
    this.state.modified = true;
    return Reflect.defineProperty(target, key, descriptor);
  }

  has(target: SessionData, key: string | symbol): boolean {
    if (typeof key !== 'symbol') this.state.assertUsable();
    return key in target;
  }

  ownKeys(target: SessionData): ArrayLike<string | symbol> {
    this.state.assertUsable();
    return Reflect.ownKeys(target);
  }

  getOwnPropertyDescriptor(target: SessionData, key: string | symbol): PropertyDescriptor | undefined {
    if (typeof key !== 'symbol') this.state.assertUsable();
    return Reflect.getOwnPropertyDescriptor(target, key);
  }

  /** `[Symbol.asyncDispose]`: what `await using` calls at the end of the scope. */
  private get dispose(): () => Promise<void> {
    return () => this.state.release();
  }
}
