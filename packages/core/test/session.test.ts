import { describe, expect, test } from '@jest/globals';
import {
  InvalidSessionIdError,
  LockTimeoutError,
  ReadonlySessionError,
  SerializationError,
  SessionCorruptError,
  SessionNotFoundError,
  SessionReleasedError,
  defineSession,
  memoryLocker,
  memoryStore,
  tied,
  touch,
  type Generator,
  type Locker,
  type OpenOptions,
  type Store,
} from '@tied/core';
import { hostileIds } from '@tied/conformance/jest';
import { nanoid } from '@tied/generators';
import { json, superjson } from '@tied/serializers';

/** Wraps a real part and records which of its methods were called (a spy, not a mock). */
function spy<T extends object>(part: T): T & { calls: string[] } {
  const calls: string[] = [];
  const wrapped = Object.create(null) as Record<string | symbol, unknown>;
  for (const key of Object.keys(part) as (keyof T & string)[]) {
    const value = part[key];
    wrapped[key] = typeof value === 'function' ? (...args: unknown[]) => { calls.push(key); return (value as Function).apply(part, args); } : value;
  }
  return Object.assign(wrapped, { calls }) as T & { calls: string[] };
}

function makeFlavor(options: { store?: Store; locker?: Locker; generator?: Generator; defaults?: OpenOptions; serializer?: 'json' | 'superjson' } = {}) {
  const store = spy(options.store ?? memoryStore());
  const locker = spy(options.locker ?? memoryLocker());
  const flavor = defineSession({
    store,
    locker,
    generator: options.generator ?? nanoid(),
    serializer: options.serializer === 'json' ? json() : superjson(),
  }, options.defaults);
  return { flavor, store, locker };
}

const updates = (calls: string[]) => calls.filter((c) => c === 'update').length;

describe('the tied object reads and writes like a plain object', () => {
  test('reads, in, Object.keys, spread, JSON.stringify and for…in', async () => {
    const { flavor } = makeFlavor();
    await using session = await flavor.open();
    session.a = 1;
    session.b = { c: [1, 2] };
    expect(session.a).toBe(1);
    expect('b' in session).toBe(true);
    expect('zzz' in session).toBe(false);
    expect(Object.keys(session)).toEqual(['_session_id', 'a', 'b']);
    expect({ ...session }).toEqual({ _session_id: session._session_id, a: 1, b: { c: [1, 2] } });
    expect(JSON.parse(JSON.stringify(session))).toEqual({ _session_id: session._session_id, a: 1, b: { c: [1, 2] } });
    const seen: string[] = [];
    for (const key in session) seen.push(key);
    expect(seen).toEqual(['_session_id', 'a', 'b']);
  });

  test('_session_id is present and read-only', async () => {
    const { flavor } = makeFlavor();
    await using session = await flavor.open();
    expect(session._session_id).toMatch(/^[A-Za-z0-9_-]{21}$/);
    expect(() => { (session as { _session_id: string })._session_id = 'other'; }).toThrow(TypeError);
    expect(() => { delete (session as { _session_id?: string })._session_id; }).toThrow(TypeError);
    expect(() => Object.defineProperty(session, '_session_id', { value: 'x' })).toThrow(TypeError);
    expect(session._session_id).toBe(tied(session)!.id);
  });

  test('tied() gives the handle of a session and undefined for anything else', async () => {
    const { flavor } = makeFlavor();
    await using session = await flavor.open();
    const handle = tied(session)!;
    expect(handle.id).toBe(session._session_id);
    expect(handle.isNew).toBe(true);
    for (const other of [{}, { ...session }, null, undefined, 42, 'x', [], Promise.resolve(session)]) expect(tied(other)).toBeUndefined();
    expect(() => touch({})).toThrow(TypeError);
  });

  test('tied() of an object that only reaches a session (its prototype, a Proxy of it, a revoked Proxy) is undefined', async () => {
    const { flavor } = makeFlavor();
    await using session = await flavor.open();
    const revocable = Proxy.revocable({}, {});
    revocable.revoke();
    const throwing = new Proxy({}, { get() { throw new Error('no reads'); } });
    for (const other of [Object.create(session), new Proxy(session, {}), revocable.proxy, throwing]) expect(tied(other)).toBeUndefined();
    expect(tied(session)!.id).toBe(session._session_id);
  });
});

describe('change tracking, as Apache::Session does it', () => {
  test('top-level set, delete and defineProperty mark the session modified; a nested change does not', async () => {
    const { flavor } = makeFlavor();
    const created = await flavor.open();
    created.user = { name: 'Ann' };
    const id = created._session_id;
    await tied(created)!.release();

    for (const change of [
      (s: Record<string, any>) => { s.x = 1; },
      (s: Record<string, any>) => { delete s.user; },
      (s: Record<string, any>) => { Object.defineProperty(s, 'y', { value: 2, enumerable: true, writable: true, configurable: true }); },
    ]) {
      const session = await flavor.open(id);
      expect(tied(session)!.isModified).toBe(false);
      change(session);
      expect(tied(session)!.isModified).toBe(true);
      await tied(session)!.release();
    }
    const session = await flavor.open(id);
    session.list = [1];
    await tied(session)!.save();
    session.list.push(2);
    session.y.toString();
    expect(tied(session)!.isModified).toBe(false);
    await tied(session)!.release();
  });

  test('the nested-change gotcha: lost after reopen without touch, kept with touch', async () => {
    const { flavor } = makeFlavor();
    let id: string;
    {
      await using session = await flavor.open();
      session.user = { name: 'Ann', state: 'Ohio' };
      id = session._session_id;
    }
    {
      await using again = await flavor.open(id);
      again.user.state = 'Texas';
    }
    {
      await using check = await flavor.open(id);
      expect(check.user.state).toBe('Ohio');
      check.user.state = 'Texas';
      const before = Date.now();
      touch(check);
      expect(check._session_timestamp).toBeGreaterThanOrEqual(before);
      expect(tied(check)!.isModified).toBe(true);
    }
    await using last = await flavor.open(id);
    expect(last.user.state).toBe('Texas');
  });

  test('release saves a modified session and writes nothing for an unmodified one', async () => {
    const { flavor, store } = makeFlavor();
    const session = await flavor.open();
    const id = session._session_id;
    await tied(session)!.release();
    expect(updates(store.calls)).toBe(0);
    const reader = await flavor.open(id);
    void reader.anything;
    await tied(reader)!.release();
    expect(updates(store.calls)).toBe(0);
    const writer = await flavor.open(id);
    writer.n = 1;
    await tied(writer)!.release();
    expect(updates(store.calls)).toBe(1);
  });

  test("changeDetection 'deep' saves nested changes without touch, and writes nothing when nothing changed", async () => {
    const { flavor, store } = makeFlavor({ defaults: { changeDetection: 'deep' } });
    const created = await flavor.open();
    created.user = { roles: ['a'], when: new Date(0) };
    const id = created._session_id;
    await tied(created)!.release();
    const writesAfterCreate = updates(store.calls);
    expect(writesAfterCreate).toBe(1);

    const unchanged = await flavor.open(id);
    unchanged.user = { roles: ['a'], when: new Date(0) };
    await tied(unchanged)!.release();
    expect(updates(store.calls)).toBe(writesAfterCreate);

    const nested = await flavor.open(id);
    nested.user.roles.push('b');
    await tied(nested)!.release();
    expect(updates(store.calls)).toBe(writesAfterCreate + 1);
    await using check = await flavor.open(id);
    expect(check.user.roles).toEqual(['a', 'b']);
    expect(check.user.when).toEqual(new Date(0));
  });
});

describe('release, delete and the life cycle', () => {
  test('release is idempotent; afterwards every read or write throws SessionReleasedError', async () => {
    const { flavor } = makeFlavor();
    const session = await flavor.open();
    session.a = 1;
    const handle = tied(session)!;
    await Promise.all([handle.release(), handle.release()]);
    await handle.release();
    expect(handle.isReleased).toBe(true);
    expect(() => session.a).toThrow(SessionReleasedError);
    expect(() => { session.a = 2; }).toThrow(SessionReleasedError);
    expect(() => 'a' in session).toThrow(SessionReleasedError);
    expect(() => Object.keys(session)).toThrow(SessionReleasedError);
    expect(() => { delete session.a; }).toThrow(SessionReleasedError);
    expect(() => touch(session)).toThrow(SessionReleasedError);
    await expect(handle.save()).rejects.toThrow(SessionReleasedError);
  });

  test('await using releases at the end of the scope: saved, and the lock free', async () => {
    const { flavor } = makeFlavor();
    let id: string;
    {
      await using session = await flavor.open();
      session.greeting = 'hello';
      id = session._session_id;
    }
    await using again = await flavor.open(id, { lockTimeout: 100 });
    expect(again.greeting).toBe('hello');
  });

  test('a new session is inserted and write-locked at open', async () => {
    const { flavor, store } = makeFlavor();
    await using session = await flavor.open();
    expect(store.calls).toEqual(['insert']);
    expect((await store.materialize(session._session_id)).data).toContain(session._session_id);
    await expect(flavor.open(session._session_id, { lockTimeout: 50 })).rejects.toBeInstanceOf(LockTimeoutError);
  });

  test('an insert collision retries with a fresh id', async () => {
    const store = memoryStore();
    await store.insert('taken-id-0000000000000', 'x');
    const ids = ['taken-id-0000000000000', 'fresh-id-0000000000000'];
    const real = nanoid({ size: 22 });
    const generator: Generator = { name: 'scripted', generate: () => ids.shift()!, validate: (id) => real.validate(id) };
    const { flavor } = makeFlavor({ store, generator });
    await using session = await flavor.open();
    expect(session._session_id).toBe('fresh-id-0000000000000');
    expect((await store.materialize('taken-id-0000000000000')).data).toBe('x');
  });

  test('delete() removes the stored session and releases it', async () => {
    const { flavor } = makeFlavor();
    const session = await flavor.open();
    const id = session._session_id;
    await tied(session)!.delete();
    expect(tied(session)!.isDeleted).toBe(true);
    expect(() => session.x).toThrow(SessionReleasedError);
    await expect(flavor.open(id)).rejects.toBeInstanceOf(SessionNotFoundError);
  });

  test('save() writes now and keeps the lock', async () => {
    const { flavor, store } = makeFlavor();
    await using session = await flavor.open();
    session.step = 1;
    await tied(session)!.save();
    expect(tied(session)!.isModified).toBe(false);
    expect(updates(store.calls)).toBe(1);
    await expect(flavor.open(session._session_id, { lockTimeout: 50 })).rejects.toBeInstanceOf(LockTimeoutError);
  });
});

describe('bad input and failures: typed errors, nothing stored lost', () => {
  test('an invalid id is refused before any store or locker is called', async () => {
    const { flavor, store, locker } = makeFlavor();
    for (const id of hostileIds) {
      if (id === undefined || id === null) continue; // these mean "create a new session"
      await expect(flavor.open(id as string)).rejects.toBeInstanceOf(InvalidSessionIdError);
    }
    expect(store.calls).toEqual([]);
    expect(locker.calls).toEqual([]);
  });

  test('a missing id throws SessionNotFoundError with the Perl message, and leaves no lock behind', async () => {
    const { flavor, locker } = makeFlavor();
    const id = 'V1StGXR8_Z5jdHi6B-myT';
    const error = await flavor.open(id).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SessionNotFoundError);
    expect((error as Error).message).toContain('Object does not exist in the data store');
    const lock = await locker.acquire(id, 'write', { timeout: 50 });
    await lock.release();
  });

  test('a value the serializer cannot hold: SerializationError, locks released, stored bytes untouched', async () => {
    for (const [serializer, poison] of [['superjson', () => 'a function'], ['json', (() => { const c: Record<string, unknown> = {}; c.self = c; return c; })()]] as const) {
      const { flavor, store } = makeFlavor({ serializer });
      const created = await flavor.open();
      created.keep = 'me';
      const id = created._session_id;
      await tied(created)!.release();
      const before = (await store.materialize(id)).data;

      const session = await flavor.open(id);
      session.bad = poison;
      await expect(tied(session)!.release()).rejects.toBeInstanceOf(SerializationError);
      expect(tied(session)!.isReleased).toBe(true);
      expect((await store.materialize(id)).data).toEqual(before);
      await using next = await flavor.open(id, { lockTimeout: 100 });
      expect(next.keep).toBe('me');
      expect('bad' in next).toBe(false);
    }
  });

  test('corrupt stored bytes: SessionCorruptError, the lock released, the bytes left for inspection', async () => {
    const { flavor, store } = makeFlavor();
    const id = 'corruptcorruptcorrupt';
    await store.insert(id, '{"json": this is not json');
    await expect(flavor.open(id)).rejects.toBeInstanceOf(SessionCorruptError);
    expect((await store.materialize(id)).data).toBe('{"json": this is not json');
    const lock = await flavor.parts.locker.acquire(id, 'write', { timeout: 50 });
    await lock.release();
  });

  test('maxAge: a session not saved for longer is missing, and removed', async () => {
    const base = memoryStore();
    const aged: Store = { ...base, materialize: async (id) => ({ ...(await base.materialize(id)), updatedAt: Date.now() - 60_000 }) };
    const { flavor } = makeFlavor({ store: aged });
    const created = await flavor.open();
    const id = created._session_id;
    await tied(created)!.release();
    await using young = await flavor.open(id, { maxAge: 120_000 });
    await tied(young)!.release();
    await expect(flavor.open(id, { maxAge: 30_000 })).rejects.toBeInstanceOf(SessionNotFoundError);
    await expect(base.materialize(id)).rejects.toBeInstanceOf(SessionNotFoundError);
  });

  test('maxAge on a store that keeps no updatedAt is refused, not ignored', async () => {
    const base = memoryStore();
    const { flavor } = makeFlavor({ store: { ...base, capabilities: { ...base.capabilities, updatedAt: false } } });
    const created = await flavor.open();
    const id = created._session_id;
    await tied(created)!.release();
    await expect(flavor.open(id, { maxAge: 1000 })).rejects.toThrow(/maxAge needs a store that keeps updatedAt/);
  });
});

describe('locking options', () => {
  test('transaction (default): concurrent opens of one id take turns and lose no update', async () => {
    const { flavor } = makeFlavor();
    const created = await flavor.open();
    created.count = 0;
    const id = created._session_id;
    await tied(created)!.release();
    await Promise.all(Array.from({ length: 20 }, async () => {
      await using s = await flavor.open(id);
      const seen = s.count;
      await new Promise((resolve) => setTimeout(resolve, 1));
      s.count = seen + 1;
    }));
    await using check = await flavor.open(id);
    expect(check.count).toBe(20);
  });

  test("transaction: false is Perl's classic mode: no lock between load and save, so a concurrent writer's update can be lost", async () => {
    const { flavor } = makeFlavor();
    const created = await flavor.open();
    created.count = 0;
    const id = created._session_id;
    await tied(created)!.release();
    const first = await flavor.open(id, { transaction: false });
    const second = await flavor.open(id, { transaction: false, lockTimeout: 100 });
    first.count = first.count + 1;
    second.count = second.count + 1;
    await tied(first)!.release();
    await tied(second)!.release();
    await using check = await flavor.open(id);
    expect(check.count).toBe(1);
  });

  test('readonly: a shared lock, writes throw ReadonlySessionError, never saved', async () => {
    const { flavor, store } = makeFlavor();
    const created = await flavor.open();
    created.v = 1;
    const id = created._session_id;
    await tied(created)!.release();
    const writes = updates(store.calls);
    const a = await flavor.open(id, { readonly: true });
    const b = await flavor.open(id, { readonly: true, lockTimeout: 100 });
    expect(a.v).toBe(1);
    expect(() => { a.v = 2; }).toThrow(ReadonlySessionError);
    expect(() => touch(b)).toThrow(ReadonlySessionError);
    await expect(flavor.open(id, { lockTimeout: 50 })).rejects.toBeInstanceOf(LockTimeoutError);
    await tied(a)!.release();
    await tied(b)!.release();
    expect(updates(store.calls)).toBe(writes);
    await expect(flavor.open(undefined, { readonly: true })).rejects.toThrow(TypeError);
  });

  test('lockTimeout gives LockTimeoutError; an AbortSignal stops the wait with its reason', async () => {
    const { flavor, store } = makeFlavor();
    const holder = await flavor.open();
    const id = holder._session_id;
    await expect(flavor.open(id, { lockTimeout: 30 })).rejects.toBeInstanceOf(LockTimeoutError);
    const controller = new AbortController();
    const waiting = flavor.open(id, { signal: controller.signal });
    controller.abort(new Error('client went away'));
    await expect(waiting).rejects.toThrow('client went away');
    const callsBefore = store.calls.length;
    await expect(flavor.open(id, { signal: AbortSignal.abort() })).rejects.toMatchObject({ name: 'AbortError' });
    expect(store.calls.length).toBe(callsBefore);
    await tied(holder)!.release();
  });

  test('an open goes by its options as they were when it was called, not as changed while it waits for the lock', async () => {
    const { flavor } = makeFlavor();
    const holder = await flavor.open();
    const id = holder._session_id;
    const options: OpenOptions = {};
    const waiting = flavor.open(id, options);
    Object.assign(options, { readonly: true, changeDetection: 'deep' });
    await tied(holder)!.release();
    const session = await waiting;
    expect(tied(session)!.isReadonly).toBe(false);
    session.n = 1;
    await tied(session)!.release();
    const reopened = await flavor.open(id, { readonly: true });
    expect(reopened.n).toBe(1);
    await tied(reopened)!.release();
  });

  test("defineSession's defaults are those given when the flavor is defined", async () => {
    const defaults: OpenOptions = {};
    const { flavor } = makeFlavor({ defaults });
    const created = await flavor.open();
    const id = created._session_id;
    await tied(created)!.release();
    defaults.readonly = true;
    for (const options of [undefined, {}]) {
      const session = await flavor.open(id, options);
      expect(tied(session)!.isReadonly).toBe(false);
      await tied(session)!.release();
    }
  });
});
