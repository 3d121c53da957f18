import { afterAll, describe, expect, test } from '@jest/globals';
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freshId, lockerSuite, storeSuite } from '@tied/conformance/jest';
import { LockLostError, SessionCorruptError, SessionExistsError, SessionNotFoundError, defineSession, tied, type FusedAccess } from '@tied/core';
import { nanoid } from '@tied/generators';
import { slotFileLocker } from '@tied/lockers/file';
import { superjson } from '@tied/serializers';
import { slotFileParts, slotFileStore } from '@tied/stores/file';

const root = mkdtempSync(join(tmpdir(), 'tied-slot-file-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const INCREMENT = new URL('./fixtures/slot-increment.mjs', import.meta.url).pathname;

storeSuite({ name: 'slotFileStore', factory: () => slotFileStore({ directory: join(root, 'conformance') }) });
storeSuite({ name: 'slotFileStore (fsync)', factory: () => slotFileStore({ directory: join(root, 'conformance-fsync'), fsync: true }) });
lockerSuite({
  name: 'slotFileLocker',
  factory: () => slotFileLocker({ directory: join(root, 'conformance-locks') }),
  store: () => slotFileStore({ directory: join(root, 'conformance-locks') }),
});

let dirCount = 0;
const newDirectory = () => join(root, `d${++dirCount}`);

/** A store, its locker and their fused access on a fresh directory. */
function parts(directory = newDirectory()) {
  const { store, locker } = slotFileParts({ directory });
  return { directory, store, locker, access: store.fuse!(locker) as FusedAccess };
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

const text = (data: string | Uint8Array) => Buffer.from(data).toString('utf8');

describe('slot files: layout', () => {
  test('one file per session, named by its id; no lock file, nothing left by an absent id', async () => {
    const { directory, store, locker, access } = parts();
    const id = freshId();
    const lock = await access.lockAndInsert(id, 'first', {});
    await access.updateAndRelease(lock, id, 'second');
    expect(readdirSync(directory)).toEqual([id]);
    const absent = freshId();
    expect(await rejection(access.lockAndMaterialize(absent, 'read', {}))).toBeInstanceOf(SessionNotFoundError);
    expect(await rejection(access.lockAndMaterialize(absent, 'write', {}))).toBeInstanceOf(SessionNotFoundError);
    // The locker alone makes the file to lock it, and removes it at release when no session was stored.
    await (await locker.acquire(absent, 'write')).release();
    await (await locker.acquire(absent, 'read')).release();
    expect(readdirSync(directory)).toEqual([id]);
    expect(text((await store.materialize(id)).data)).toBe('second');
  });

  test('each save goes to the other slot, so the file keeps its size; a lock knows nothing of other processes', async () => {
    const { store, access } = parts();
    const id = freshId();
    await access.updateAndRelease(await access.lockAndInsert(id, 'v1', {}), id, undefined);
    const size = statSync(store.pathOf(id)).size;
    for (let version = 2; version <= 5; version++) {
      const { lock, stored } = await access.lockAndMaterialize(id, 'write', {});
      expect(text(stored.data)).toBe(`v${version - 1}`);
      await access.updateAndRelease(lock, id, `v${version}`);
    }
    expect(statSync(store.pathOf(id)).size).toBe(size);
    expect(text((await store.materialize(id)).data)).toBe('v5');
  });

  test('updatedAt is the time of the last save, and the file mtime matches it', async () => {
    const { store } = parts();
    const id = freshId();
    const before = Date.now();
    await store.insert(id, 'x');
    const { updatedAt } = await store.materialize(id);
    expect(updatedAt).toBeGreaterThanOrEqual(before);
    expect(updatedAt).toBeLessThanOrEqual(Date.now());
    expect(Math.abs(statSync(store.pathOf(id)).mtimeMs - updatedAt!)).toBeLessThan(1000);
  });

  test('a payload larger than the slots grows the file, and the grown file is locked by the same lock', async () => {
    const { directory, store, access } = parts();
    const id = freshId();
    await access.updateAndRelease(await access.lockAndInsert(id, 'small', {}), id, undefined);
    const small = statSync(store.pathOf(id)).size;
    const { lock } = await access.lockAndMaterialize(id, 'write', {});
    const big = 'b'.repeat(100_000);
    await access.updateLocked(lock, id, big);
    expect(statSync(store.pathOf(id)).size).toBeGreaterThan(2 * big.length);
    // Still held: another write lock on the grown file waits.
    const other = parts(directory);
    expect(await rejection(other.access.lockAndMaterialize(id, 'write', { timeout: 100 }))).toMatchObject({ code: 'ERR_LOCK_TIMEOUT' });
    await access.updateAndRelease(lock, id, big + '!');
    expect(text((await store.materialize(id)).data)).toBe(big + '!');
    expect(readdirSync(directory)).toEqual([id]);
    expect(small).toBeLessThan(2000);
  });

  test('a waiter on the old file takes the grown one once the holder releases', async () => {
    const { directory, access } = parts();
    const other = parts(directory);
    const id = freshId();
    await access.updateAndRelease(await access.lockAndInsert(id, 'small', {}), id, undefined);
    const { lock } = await access.lockAndMaterialize(id, 'write', {});
    const waiting = other.access.lockAndMaterialize(id, 'write', {});
    await new Promise((resolve) => setTimeout(resolve, 30));
    await access.updateAndRelease(lock, id, 'g'.repeat(50_000));
    const { lock: second, stored } = await waiting;
    expect(text(stored.data)).toBe('g'.repeat(50_000));
    await other.access.updateAndRelease(second, id, 'after');
    expect(text((await other.store.materialize(id)).data)).toBe('after');
  });

  test('a store and a locker made apart on one directory fuse, and a lock from the locker saves through the access', async () => {
    const directory = newDirectory();
    const store = slotFileStore({ directory });
    const locker = slotFileLocker({ directory });
    const access = store.fuse!(locker)!;
    expect(access).toBeDefined();
    expect(store.fuse!(slotFileLocker({ directory: newDirectory() }))).toBeUndefined();
    const id = freshId();
    await access.updateAndRelease(await access.lockAndInsert(id, 'one', {}), id, undefined);
    await access.updateAndRelease(await locker.acquire(id, 'write'), id, 'two');
    expect(text((await store.materialize(id)).data)).toBe('two');
    await access.removeAndRelease(await locker.acquire(id, 'write'), id);
    expect(readdirSync(directory)).toEqual([]);
  });

  test('a write through a released lock is refused with LockLostError and writes nothing', async () => {
    const { store, access } = parts();
    const id = freshId();
    const lock = await access.lockAndInsert(id, 'kept', {});
    await lock.release();
    expect(await rejection(access.updateLocked(lock, id, 'lost'))).toBeInstanceOf(LockLostError);
    expect(text((await store.materialize(id)).data)).toBe('kept');
  });

  test('insert of an existing id is SessionExistsError and leaves it whole; remove unlinks it under the lock', async () => {
    const { directory, store, access } = parts();
    const id = freshId();
    await access.updateAndRelease(await access.lockAndInsert(id, 'one', {}), id, undefined);
    expect(await rejection(access.lockAndInsert(id, 'two', {}))).toBeInstanceOf(SessionExistsError);
    expect(await rejection(store.insert(id, 'two'))).toBeInstanceOf(SessionExistsError);
    expect(text((await store.materialize(id)).data)).toBe('one');
    const { lock } = await access.lockAndMaterialize(id, 'write', {});
    await access.removeAndRelease(lock, id);
    expect(readdirSync(directory)).toEqual([]);
  });
});

describe('slot files: damage and crashes', () => {
  test('an empty file, or one whose insert crashed before its header, reads as missing and can be inserted', async () => {
    const { store, access } = parts();
    const empty = freshId();
    const headerless = freshId();
    await store.insert(headerless, 'x'); // then wipe its header, as a crash before the header write leaves it
    const fd = openSync(store.pathOf(headerless), 'r+');
    writeSync(fd, Buffer.alloc(16), 0, 16, 0);
    closeSync(fd);
    writeFileSync(store.pathOf(empty), '');
    for (const id of [empty, headerless]) {
      expect(await rejection(store.materialize(id))).toBeInstanceOf(SessionNotFoundError);
      expect(await rejection(access.lockAndMaterialize(id, 'read', {}))).toBeInstanceOf(SessionNotFoundError);
      await access.updateAndRelease(await access.lockAndInsert(id, 'fresh', {}), id, undefined);
      expect(text((await store.materialize(id)).data)).toBe('fresh');
    }
  });

  test('a torn newest slot falls back to the previous version; both slots torn is SessionCorruptError', async () => {
    const { store } = parts();
    const id = freshId();
    await store.insert(id, 'version one');
    await store.update(id, 'version two'); // in slot 1
    const path = store.pathOf(id);
    const capacity = readFileSync(path).readUInt32LE(8);
    const fd = openSync(path, 'r+');
    writeSync(fd, Buffer.from('XX'), 0, 2, 16 + capacity + 32); // damage slot 1's payload
    expect(text((await store.materialize(id)).data)).toBe('version one');
    // The next save goes over the damaged slot.
    await store.update(id, 'version three');
    expect(text((await store.materialize(id)).data)).toBe('version three');
    writeSync(fd, Buffer.from('XX'), 0, 2, 16 + 32);
    writeSync(fd, Buffer.from('XX'), 0, 2, 16 + capacity + 32);
    closeSync(fd);
    const error = await rejection(store.materialize(id));
    expect(error).toBeInstanceOf(SessionCorruptError);
    expect((error as Error).message).toMatch(/neither of its two slots/);
  });

  test('a file of another format (the Perl-format File store) is SessionCorruptError naming it, never overwritten', async () => {
    const { directory, store, access } = parts();
    const id = freshId();
    mkdirSync(directory);
    writeFileSync(store.pathOf(id), '{"json":{"a":1}}');
    for (const attempt of [store.materialize(id), access.lockAndMaterialize(id, 'write', {}), store.update(id, 'x')]) {
      const error = await rejection(attempt);
      expect(error).toBeInstanceOf(SessionCorruptError);
      expect((error as Error).message).toMatch(/Perl-format File store/);
    }
    expect(await rejection(access.lockAndInsert(id, 'x', {}))).toBeInstanceOf(SessionExistsError);
    expect(readFileSync(store.pathOf(id), 'utf8')).toBe('{"json":{"a":1}}');
  });

  test('a symbolic link, FIFO or directory where the session file should be is SessionCorruptError; nothing is followed', async () => {
    const { directory, store, locker, access } = parts();
    await store.insert(freshId(), 'make the directory');
    const target = join(root, 'link-target');
    writeFileSync(target, 'secret');
    const link = freshId();
    const fifo = freshId();
    const dir = freshId();
    symlinkSync(target, join(directory, link));
    execFileSync('mkfifo', [join(directory, fifo)]);
    mkdirSync(join(directory, dir));
    for (const id of [link, fifo, dir]) {
      for (const attempt of [
        store.materialize(id), store.update(id, 'x'), store.insert(id, 'x'),
        access.lockAndMaterialize(id, 'read', {}), access.lockAndInsert(id, 'x', {}), locker.acquire(id, 'write'),
      ]) {
        const error = await rejection(attempt);
        expect(error).toBeInstanceOf(SessionCorruptError);
        expect((error as Error).message).toMatch(/not a regular file/);
      }
    }
    expect(readFileSync(target, 'utf8')).toBe('secret');
  });
});

describe('slot files: list and purge', () => {
  test('list gives sessions with mtime and size, never gates, grown files being written, or Perl lock files', async () => {
    const { directory, store } = parts();
    const ids = [freshId(), freshId()];
    for (const id of ids) await store.insert(id, 'x');
    writeFileSync(join(directory, `.${ids[0]}.gate`), '');
    writeFileSync(join(directory, `.${ids[0]}.grow-1-0-1`), 'partial');
    writeFileSync(join(directory, `Apache-Session-${ids[0]}.lock`), '');
    const listed = [];
    for await (const info of store.list()) listed.push(info);
    expect(listed.map((info) => info.id).sort()).toEqual([...ids].sort());
    expect(listed[0]!.size).toBeGreaterThan(0);
  });

  test('purge removes expired sessions and old dot-files, but not a session someone holds or a recent one', async () => {
    const { directory, store, access } = parts();
    const [old, held, recent] = [freshId(), freshId(), freshId()];
    for (const id of [old, held, recent]) await store.insert(id, 'x');
    const past = new Date(Date.now() - 3_600_000);
    for (const name of [old, held, `.${old}.grow-1-0-1`]) {
      if (name.startsWith('.')) writeFileSync(join(directory, name), 'partial');
      utimesSync(join(directory, name), past, past);
    }
    const { lock } = await access.lockAndMaterialize(held, 'read', {});
    expect(await store.purge({ olderThan: 60_000 })).toBe(1);
    expect(readdirSync(directory).sort()).toEqual([held, recent].sort());
    await lock.release();
    expect(await store.purge({ olderThan: 60_000 })).toBe(1);
    expect(readdirSync(directory)).toEqual([recent]);
  });
});

describe('slot files: across processes', () => {
  test('4 processes × 250 locked increments of one session = 1000', async () => {
    const directory = newDirectory();
    const flavor = defineSession({ ...slotFileParts({ directory }), generator: nanoid(), serializer: superjson() });
    const session = await flavor.open<{ count: number }>();
    session.count = 0;
    const id = tied(session).id;
    await tied(session).release();
    const runs = Array.from({ length: 4 }, () => new Promise<string>((resolve, reject) => {
      const child = spawn(process.execPath, [INCREMENT, directory, id, '250'], { stdio: ['ignore', 'pipe', 'inherit'] });
      let output = '';
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => { output += chunk; });
      child.once('error', reject);
      child.once('exit', (code) => (code === 0 ? resolve(output.trim()) : reject(new Error(`increment exited with ${code}`))));
    }));
    expect(await Promise.all(runs)).toEqual(['done', 'done', 'done', 'done']);
    const done = await flavor.open<{ count: number }>(id, { readonly: true });
    expect(done.count).toBe(1000);
    await tied(done).release();
    expect(readdirSync(directory)).toEqual([id]);
    expect(existsSync(join(directory, `Apache-Session-${id}.lock`))).toBe(false);
  }, 120_000);
});
