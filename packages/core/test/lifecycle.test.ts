import { describe, expect, test } from '@jest/globals';
import { execFile } from 'node:child_process';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import {
  InvalidSessionIdError, SessionExistsError, SessionNotFoundError, SessionReleasedError,
  defineSession, memoryLocker, memoryStore, nullLocker, tied, type Flavor, type Session,
} from '@tied/core';
import { hex, nanoid } from '@tied/generators';
import { superjson } from '@tied/serializers';

const run = promisify(execFile);

function makeFlavor(): Flavor {
  return defineSession({ store: memoryStore(), locker: memoryLocker(), generator: nanoid(), serializer: superjson() });
}

async function stored(flavor: Flavor, id: string): Promise<Record<string, unknown> | undefined> {
  try {
    return await flavor.with(id, (session) => ({ ...session }), { readonly: true });
  } catch (error) {
    if (error instanceof SessionNotFoundError) return undefined;
    throw error;
  }
}

describe('Flavor.with: saved when the callback returns, rolled back when it throws', () => {
  test('returns the callback result and saves the changes', async () => {
    const flavor = makeFlavor();
    const id = await flavor.with(undefined, (session) => { session.n = 1; return session._session_id; });
    expect(await flavor.with<{ n: number }, number>(id, (session) => ++session.n)).toBe(2);
    expect(await stored(flavor, id)).toMatchObject({ n: 2 });
  });

  test('a throwing callback saves nothing, releases the lock and rethrows', async () => {
    const flavor = makeFlavor();
    const id = await flavor.with(undefined, (session) => { session.n = 1; return session._session_id; });
    let inside: Session | undefined;
    await expect(flavor.with(id, async (session) => {
      inside = session;
      session.n = 99;
      throw new Error('half-way');
    })).rejects.toThrow('half-way');
    expect(tied(inside!).isReleased).toBe(true);
    expect(await stored(flavor, id)).toMatchObject({ n: 1 });
    // The lock is free: an open with a zero timeout gets it.
    await flavor.with(id, () => {}, { lockTimeout: 0 });
  });

  test('a new session whose callback throws is not kept half-written', async () => {
    const flavor = makeFlavor();
    let id = '';
    await expect(flavor.with(undefined, (session) => { id = session._session_id; session.n = 1; throw new Error('no'); })).rejects.toThrow('no');
    expect(await stored(flavor, id)).toEqual({ _session_id: id });
  });

  test('refuses a callback that is not a function before opening', async () => {
    const flavor = makeFlavor();
    await expect(flavor.with(undefined, 'nope' as never)).rejects.toThrow(TypeError);
  });
});

describe('release({ save: false }) and discard()', () => {
  test('discard drops the changes since the last save and releases the lock', async () => {
    const flavor = makeFlavor();
    const id = await flavor.with(undefined, (session) => { session.n = 1; return session._session_id; });
    const session = await flavor.open(id);
    session.n = 2;
    await tied(session).save();
    session.n = 3;
    await tied(session).discard();
    expect(() => session.n).toThrow(SessionReleasedError);
    expect(await stored(flavor, id)).toMatchObject({ n: 2 });
    const again = await flavor.open(id, { lockTimeout: 0 });
    await tied(again).release({ save: false });
    await tied(again).release();
  });
});

describe('lazy: a new session stored only once written', () => {
  test('released unwritten, it leaves nothing in the store and takes no lock', async () => {
    const store = memoryStore();
    const flavor = defineSession({ store, locker: nullLocker(), generator: nanoid(), serializer: superjson() });
    const session = await flavor.open(undefined, { lazy: true });
    const handle = tied(session);
    expect(handle.isNew).toBe(true);
    expect(handle.isStored).toBe(false);
    expect(session._session_id).toBe(handle.id);
    await handle.release();
    const ids = [];
    for await (const info of store.list!()) ids.push(info.id);
    expect(ids).toEqual([]);
  });

  test('written, it is inserted at release and can be reopened', async () => {
    const flavor = makeFlavor();
    const session = await flavor.open<{ user: string }>(undefined, { lazy: true });
    session.user = 'Ann';
    const id = session._session_id;
    expect(await stored(flavor, id)).toBeUndefined();
    await tied(session).release();
    expect(await stored(flavor, id)).toEqual({ _session_id: id, user: 'Ann' });
  });

  test('save() inserts it and keeps the write lock until release', async () => {
    const flavor = makeFlavor();
    const session = await flavor.open(undefined, { lazy: true });
    const id = session._session_id;
    session.n = 1;
    await tied(session).save();
    expect(tied(session).isStored).toBe(true);
    await expect(flavor.open(id, { lockTimeout: 10 })).rejects.toMatchObject({ code: 'ERR_LOCK_TIMEOUT' });
    session.n = 2;
    await tied(session).release();
    expect(await stored(flavor, id)).toMatchObject({ n: 2 });
  });

  test('lazy and id are for new sessions only', async () => {
    const flavor = makeFlavor();
    const id = await flavor.with(undefined, (session) => session._session_id);
    await expect(flavor.open(id, { lazy: true })).rejects.toThrow(/for a new session/);
  });
});

describe('a new session under a chosen id', () => {
  test('is created under that id, validated first; a taken id is SessionExistsError', async () => {
    const store = memoryStore();
    const flavor = defineSession({ store, locker: memoryLocker(), generator: hex(), serializer: superjson() });
    const id = 'a'.repeat(32);
    await flavor.with(undefined, (session) => { expect(session._session_id).toBe(id); session.n = 1; }, { id });
    await expect(flavor.open(undefined, { id })).rejects.toBeInstanceOf(SessionExistsError);
    await expect(flavor.open(undefined, { id: '../etc/passwd' })).rejects.toBeInstanceOf(InvalidSessionIdError);
    expect(await stored(flavor, id)).toMatchObject({ n: 1 });
  });
});

describe('options are checked', () => {
  test('a misspelt open option is a TypeError listing the known ones', async () => {
    const flavor = makeFlavor();
    await expect(flavor.open(undefined, { lockTimout: 500 } as never)).rejects.toThrow(/Unknown open option "lockTimout"; the open options are .*lockTimeout/);
    await expect(flavor.open(undefined, { lockTimeout: -1 })).rejects.toThrow(/lockTimeout has an invalid value: -1/);
    await expect(flavor.open(undefined, { changeDetection: 'deeep' } as never)).rejects.toThrow(/changeDetection/);
    expect(() => defineSession({ store: memoryStore(), locker: memoryLocker(), generator: nanoid(), serializer: superjson() }, { readOnly: true } as never)).toThrow(/Unknown open option "readOnly"/);
  });

  test("a name of Object.prototype's (toString, constructor) is an unknown open option too", async () => {
    const flavor = makeFlavor();
    for (const name of ['toString', 'constructor', 'hasOwnProperty', '__proto__']) {
      await expect(flavor.open(undefined, JSON.parse(`{"${name}": 1}`))).rejects.toThrow(`Unknown open option "${name}"`);
    }
  });

  test('defineSession refuses a missing, unknown or incomplete part', () => {
    const parts = { store: memoryStore(), locker: memoryLocker(), generator: nanoid(), serializer: superjson() };
    expect(() => defineSession({ ...parts, store: undefined } as never)).toThrow(/store given to defineSession lacks insert/);
    expect(() => defineSession({ ...parts, lock: memoryLocker() } as never)).toThrow(/Unknown part "lock"/);
    expect(() => defineSession({ ...parts, serializer: { serialize() { return ''; } } } as never)).toThrow(/serializer given to defineSession lacks unserialize/);
  });
});

describe('Flavor.purge', () => {
  test('removes the sessions not saved for olderThan ms and keeps the others', async () => {
    const flavor = makeFlavor();
    const old = await flavor.with(undefined, (session) => session._session_id);
    await new Promise((resolve) => setTimeout(resolve, 30));
    const fresh = await flavor.with(undefined, (session) => session._session_id);
    expect(await flavor.purge({ olderThan: 20 })).toBe(1);
    expect(await stored(flavor, old)).toBeUndefined();
    expect(await stored(flavor, fresh)).toBeDefined();
    await expect(flavor.purge({ olderThan: Number.NaN })).rejects.toThrow(TypeError);
  });

  test('a store that cannot purge says so', async () => {
    const { purge: _purge, ...noPurge } = memoryStore();
    const flavor = defineSession({ store: { ...noPurge, name: 'plain' }, locker: memoryLocker(), generator: nanoid(), serializer: superjson() });
    await expect(flavor.purge({ olderThan: 1 })).rejects.toThrow('The plain store cannot purge');
  });
});

describe('a session dropped without release', () => {
  test('frees its lock once garbage-collected, discards its changes, and warns once', async () => {
    const script = fileURLToPath(new URL('./fixtures/abandoned-session.mjs', import.meta.url));
    const { stdout, stderr } = await run(process.execPath, ['--expose-gc', script], { cwd: dirname(script) });
    expect(JSON.parse(stdout)).toEqual({ n: null });
    expect(stderr.match(/TIED_SESSION_ABANDONED/g)).toHaveLength(1);
  });

  test('a lazy session is watched from the save that locks it', async () => {
    const script = fileURLToPath(new URL('./fixtures/abandoned-lazy-session.mjs', import.meta.url));
    const { stdout, stderr } = await run(process.execPath, ['--expose-gc', script], { cwd: dirname(script) });
    expect(JSON.parse(stdout)).toEqual({ n: 1 });
    expect(stderr.match(/TIED_SESSION_ABANDONED/g)).toHaveLength(1);
  });
});
