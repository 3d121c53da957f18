import type { FusedAccess, Generator, Lock, LockMode, Locker, Payload, Serializer, Store, StoredSession } from './roles.js';
import {
  ReadonlySessionError,
  SerializationError,
  SessionCorruptError,
  SessionExistsError,
  SessionNotFoundError,
  SessionReleasedError,
  TiedError,
  abortReason,
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
  /** Created by this open (inserted at open, as Perl does). */
  readonly isNew: boolean;
  /** A top-level write happened since the last save. */
  readonly isModified: boolean;
  readonly isDeleted: boolean;
  readonly isReleased: boolean;
  readonly isReadonly: boolean;
  /** Writes the session now and keeps the lock. */
  save(): Promise<void>;
  /** Saves when modified, then releases every lock. Idempotent. */
  release(): Promise<void>;
  /** Removes the stored session and releases it. */
  delete(): Promise<void>;
  /** Sets top-level `_session_timestamp` to `Date.now()`, which forces a save at release. */
  touch(): void;
}

const handles = new WeakMap<object, SessionHandle>();

/** Perl's `tied(%session)`: the handle behind a session, `undefined` for anything else. */
export function tied(value: unknown): SessionHandle | undefined {
  return typeof value === 'object' && value !== null ? handles.get(value) : undefined;
}

/** The Apache::Session `$session{TIMESTAMP} = time` idiom: marks the session modified so it is saved. */
export function touch(session: object): void {
  const handle = tied(session);
  if (!handle) throw new TypeError('touch() expects a tied session');
  handle.touch();
}

/** How many fresh ids `create` tries before giving up on insert collisions. */
const MAX_ID_ATTEMPTS = 10;

/** Opens (id given) or creates (no id) a session with these parts. Used by flavors. */
export async function openWith<T extends object>(
  parts: SessionParts,
  fused: FusedAccess | undefined,
  id: unknown,
  options: OpenOptions = {},
): Promise<Session<T>> {
  options.signal?.throwIfAborted();
  if (id === undefined || id === null) return create<T>(parts, fused, options);
  parts.generator.validate(id);
  return restore<T>(parts, fused, id, options);
}

async function create<T extends object>(parts: SessionParts, fused: FusedAccess | undefined, options: OpenOptions): Promise<Session<T>> {
  if (options.readonly) throw new TypeError('A new session cannot be opened readonly');
  const acquireOptions = { timeout: options.lockTimeout, signal: options.signal };
  for (let attempt = 1; ; attempt++) {
    const id = parts.generator.generate();
    const data: SessionData = { _session_id: id };
    const bytes = serialize(parts.serializer, data);
    try {
      const lock = fused
        ? await fused.lockAndInsert(id, bytes, acquireOptions)
        : await lockThenInsert(parts, id, bytes, acquireOptions);
      const state = new SessionState(parts, fused, id, data, bytes, options, lock, true);
      if (options.transaction === false) await state.dropLock();
      return state.proxy as Session<T>;
    } catch (error) {
      if (!(error instanceof SessionExistsError) || attempt === MAX_ID_ATTEMPTS) throw error;
    }
  }
}

async function lockThenInsert(parts: SessionParts, id: string, bytes: Payload, acquireOptions: { timeout?: number; signal?: AbortSignal }): Promise<Lock> {
  const lock = await parts.locker.acquire(id, 'write', acquireOptions);
  try {
    await parts.store.insert(id, bytes);
    return lock;
  } catch (error) {
    await lock.release();
    throw error;
  }
}

async function restore<T extends object>(parts: SessionParts, fused: FusedAccess | undefined, id: string, options: OpenOptions): Promise<Session<T>> {
  if (options.maxAge !== undefined && !parts.store.capabilities.updatedAt) {
    throw new TypeError(`maxAge needs a store that keeps updatedAt; the ${parts.store.name} store does not`);
  }
  const mode: LockMode = options.readonly || options.transaction === false ? 'read' : 'write';
  const acquireOptions = { timeout: options.lockTimeout, signal: options.signal };
  const { lock, stored } = fused
    ? await fused.lockAndMaterialize(id, mode, acquireOptions)
    : await lockThenMaterialize(parts, id, mode, acquireOptions);
  let data: SessionData;
  try {
    if (options.maxAge !== undefined && stored.updatedAt !== undefined && Date.now() - stored.updatedAt > options.maxAge) {
      await parts.store.remove(id);
      throw new SessionNotFoundError(id);
    }
    data = unserialize(parts.serializer, id, stored.data);
  } catch (error) {
    await lock.release();
    throw error;
  }
  // The id under which it is stored is the truth, whatever the stored hash says.
  data._session_id = id;
  const state = new SessionState(parts, fused, id, data, stored.data, options, lock, false);
  if (options.transaction === false && !options.readonly) await state.dropLock();
  return state.proxy as Session<T>;
}

async function lockThenMaterialize(parts: SessionParts, id: string, mode: LockMode, acquireOptions: { timeout?: number; signal?: AbortSignal }): Promise<{ lock: Lock; stored: StoredSession }> {
  const lock = await parts.locker.acquire(id, mode, acquireOptions);
  try {
    return { lock, stored: await parts.store.materialize(id) };
  } catch (error) {
    await lock.release();
    throw error;
  }
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
    private readonly fused: FusedAccess | undefined,
    readonly id: string,
    private readonly data: SessionData,
    /** The bytes as last loaded or saved, for `changeDetection: 'deep'`. */
    private savedPayload: Payload,
    private readonly options: OpenOptions,
    /** Held from open to release, except in `transaction: false` mode between load and save. */
    private lock: Lock | undefined,
    readonly isNew: boolean,
  ) {
    this.proxy = new Proxy(data, new SessionTraps(this));
    handles.set(this.proxy, this);
  }

  get isModified(): boolean { return this.modified; }
  get isDeleted(): boolean { return this.deleted; }
  get isReleased(): boolean { return this.released; }
  get isReadonly(): boolean { return this.options.readonly === true; }

  touch(): void {
    this.assertWritable();
    this.data._session_timestamp = Date.now();
    this.modified = true;
  }

  async save(): Promise<void> {
    this.assertWritable();
    const payload = serialize(this.parts.serializer, this.data);
    if (this.lock) {
      await this.parts.store.update(this.id, payload);
    } else {
      const lock = await this.parts.locker.acquire(this.id, 'write', this.acquireOptions());
      await this.writeAndRelease(lock, payload);
    }
    this.savedPayload = payload;
    this.modified = false;
  }

  release(): Promise<void> {
    this.releasing ??= this.finish();
    return this.releasing;
  }

  async delete(): Promise<void> {
    this.assertWritable();
    this.deleted = true;
    this.released = true;
    const lock = this.lock ?? await this.parts.locker.acquire(this.id, 'write', this.acquireOptions());
    this.lock = undefined;
    this.releasing = Promise.resolve();
    try {
      await this.parts.store.remove(this.id);
    } finally {
      await lock.release();
    }
  }

  /** Lets go of the lock between load and save (`transaction: false`). */
  async dropLock(): Promise<void> {
    const lock = this.lock;
    this.lock = undefined;
    await lock?.release();
  }

  private async finish(): Promise<void> {
    this.released = true;
    let payload: Payload | undefined;
    try {
      payload = this.pendingPayload();
    } catch (error) {
      await this.dropLock();
      throw error;
    }
    let lock = this.lock;
    this.lock = undefined;
    if (!lock) {
      if (payload === undefined) return;
      lock = await this.parts.locker.acquire(this.id, 'write', this.acquireOptions());
    }
    await this.writeAndRelease(lock, payload);
  }

  /** The bytes to write at release, or undefined when nothing needs saving. */
  private pendingPayload(): Payload | undefined {
    if (this.options.readonly || this.deleted) return undefined;
    if (this.options.changeDetection === 'deep') {
      const payload = serialize(this.parts.serializer, this.data);
      return samePayload(payload, this.savedPayload) ? undefined : payload;
    }
    return this.modified ? serialize(this.parts.serializer, this.data) : undefined;
  }

  private async writeAndRelease(lock: Lock, payload: Payload | undefined): Promise<void> {
    if (this.fused) return this.fused.updateAndRelease(lock, this.id, payload);
    try {
      if (payload !== undefined) await this.parts.store.update(this.id, payload);
    } finally {
      await lock.release();
    }
  }

  private acquireOptions() {
    return { timeout: this.options.lockTimeout, signal: this.options.signal };
  }

  assertUsable(): void {
    if (this.released) throw new SessionReleasedError(this.id);
  }

  assertWritable(): void {
    this.assertUsable();
    if (this.options.readonly) throw new ReadonlySessionError(this.id);
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
    if (typeof key === 'symbol') return key === Symbol.asyncDispose ? this.dispose : Reflect.get(target, key);
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
