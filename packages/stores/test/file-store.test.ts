import { afterAll, describe, expect, test } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import {
  chmodSync, chownSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { accessSuite, freshId, hostileIds, storeSuite, testOrSkip } from '@tied/conformance/jest';
import { InvalidSessionIdError, SessionCorruptError, SessionExistsError, SessionNotFoundError } from '@tied/core';
import { fileStore } from '@tied/stores/file';
import { fileLocker } from '@tied/lockers/file';

const root = mkdtempSync(join(tmpdir(), 'tied-file-store-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const isRoot = process.getuid?.() === 0;
/** The uid (and gid) of the user nobody. */
const NOBODY = 65534;
const INSERT = new URL('./fixtures/file-insert.mjs', import.meta.url).pathname;
const umask = process.umask();

storeSuite({ name: 'fileStore', factory: () => fileStore({ directory: join(root, 'conformance-flat') }) });
storeSuite({ name: 'fileStore (shardDepth 2, fsync)', factory: () => fileStore({ directory: join(root, 'conformance-sharded'), shardDepth: 2, fsync: true }) });
accessSuite({ name: 'fileStore + fileLocker', factory: () => ({ store: fileStore({ directory: join(root, 'access') }), locker: fileLocker({ lockDirectory: join(root, 'access-locks') }) }) });

/** A fresh directory path under the test root (not created). */
let dirCount = 0;
const newDirectory = () => join(root, `d${++dirCount}`);

/** Every file under `dir`, as paths relative to it. */
const filesUnder = (dir: string): string[] => existsSync(dir) ? (readdirSync(dir, { recursive: true }) as string[]).sort() : [];

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

describe('fileStore layout', () => {
  test('shardDepth 0 is Perl\'s Store::File layout: <directory>/<id> holding exactly the bytes', async () => {
    const directory = newDirectory();
    const store = fileStore({ directory });
    await store.insert('abcdef0123', 'the bytes');
    expect(filesUnder(directory)).toEqual(['abcdef0123']);
    expect(readFileSync(join(directory, 'abcdef0123'), 'utf8')).toBe('the bytes');
    expect(store.pathOf('abcdef0123')).toBe(join(directory, 'abcdef0123'));
  });

  test('shardDepth 1 and 2 put the file under folders named by the id\'s next two characters', async () => {
    const one = newDirectory();
    const two = newDirectory();
    await fileStore({ directory: one, shardDepth: 1 }).insert('abcdef0123', 'x');
    await fileStore({ directory: two, shardDepth: 2 }).insert('abcdef0123', 'x');
    expect(readFileSync(join(one, 'ab', 'abcdef0123'), 'utf8')).toBe('x');
    expect(readFileSync(join(two, 'ab', 'cd', 'abcdef0123'), 'utf8')).toBe('x');
  });

  test('shard folder names keep only [A-Za-z0-9_-] and are padded for short ids', () => {
    const directory = newDirectory();
    const store = fileStore({ directory, shardDepth: 2 });
    expect(store.pathOf('a')).toBe(join(directory, 'a_', '__', 'a'));
    expect(store.pathOf('x.~+yz')).toBe(join(directory, 'x_', '__', 'x.~+yz'));
  });

  test('list finds sessions in shard folders', async () => {
    const store = fileStore({ directory: newDirectory(), shardDepth: 2 });
    const ids = [freshId(), freshId(), freshId()];
    for (const id of ids) await store.insert(id, id);
    const listed = [];
    for await (const info of store.list()) listed.push(info.id);
    expect(listed.sort()).toEqual([...ids].sort());
  });

  test('updatedAt is the file\'s modification time in ms', async () => {
    const directory = newDirectory();
    const store = fileStore({ directory });
    await store.insert('abc', 'x');
    utimesSync(join(directory, 'abc'), 1_000_000, 1_000_000);
    expect((await store.materialize('abc')).updatedAt).toBe(1_000_000_000);
  });
});

describe('fileStore modes and directories', () => {
  test('the directory is created on first use with mode 0700, session files 0600', async () => {
    const directory = newDirectory();
    const store = fileStore({ directory, shardDepth: 1 });
    expect(existsSync(directory)).toBe(false);
    await store.insert('abcdef', 'secret');
    expect(statSync(directory).mode & 0o777).toBe(0o700 & ~umask);
    expect(statSync(join(directory, 'ab')).mode & 0o777).toBe(0o700 & ~umask);
    expect(statSync(join(directory, 'ab', 'abcdef')).mode & 0o777).toBe(0o600 & ~umask);
    await store.update('abcdef', 'still secret');
    expect(statSync(join(directory, 'ab', 'abcdef')).mode & 0o777).toBe(0o600 & ~umask);
  });

  test('mode 0o640 gives files 0640 and folders 0750', async () => {
    const directory = newDirectory();
    await fileStore({ directory, mode: 0o640 }).insert('abc', 'x');
    expect(statSync(directory).mode & 0o777).toBe(0o750 & ~umask);
    expect(statSync(join(directory, 'abc')).mode & 0o777).toBe(0o640 & ~umask);
  });

  test('bad options are refused when the store is made', () => {
    expect(() => fileStore({ directory: '' })).toThrow(TypeError);
    expect(() => fileStore({ directory: root, shardDepth: 3 })).toThrow(/shardDepth must be 0, 1 or 2/);
    expect(() => fileStore({ directory: root, mode: 0o400 })).toThrow(/owner read and write/);
    expect(() => fileStore({ directory: root, fsync: 'yes' as unknown as boolean })).toThrow(TypeError);
  });

  test('a missing parent gives one error naming the directory and its parent', async () => {
    const directory = join(root, 'no-such-parent', 'sessions');
    const error = await rejection(fileStore({ directory }).insert('abc', 'x')) as NodeJS.ErrnoException;
    expect(error.message).toBe(`Cannot create the session directory ${directory}: its parent ${join(root, 'no-such-parent')} does not exist (ENOENT)`);
    expect(error.code).toBe('ENOENT');
    expect(existsSync(join(root, 'no-such-parent'))).toBe(false);
  });

  test('a parent that is a file gives one error naming it', async () => {
    const file = join(root, 'a-file');
    writeFileSync(file, '');
    const error = await rejection(fileStore({ directory: join(file, 'sessions') }).materialize('abc')) as Error;
    expect(error.message).toBe(`Cannot create the session directory ${join(file, 'sessions')}: ${file} is not a directory (ENOTDIR)`);
  });

  test('an unwritable parent gives one error naming it', () => {
    // Root may write anywhere, so as root the store runs as the user nobody, in a folder nobody can
    // reach (the test root, like the checkout, may be 0700), after loading the store as root.
    const reachable = mkdtempSync(join(tmpdir(), 'tied-file-store-nobody-'));
    try {
      chmodSync(reachable, 0o755);
      const parent = join(reachable, 'parent');
      mkdirSync(parent, { mode: 0o555 });
      const directory = join(parent, 'sessions');
      const output = execFileSync(process.execPath, [INSERT, directory, ...(isRoot ? [String(NOBODY)] : [])], { encoding: 'utf8' });
      expect(output).toBe(`Cannot create the session directory ${directory}: ${parent} is not writable (EACCES)`);
    } finally {
      rmSync(reachable, { recursive: true, force: true });
    }
  });

  test('a directory everyone can write to is refused; a sticky one such as /tmp is accepted', async () => {
    const open = newDirectory();
    mkdirSync(open);
    chmodSync(open, 0o777);
    expect((await rejection(fileStore({ directory: open }).materialize('abc')) as Error).message)
      .toBe(`Refusing the session directory ${open}: everyone can write to it`);
    const sticky = newDirectory();
    mkdirSync(sticky);
    chmodSync(sticky, 0o1777);
    await fileStore({ directory: sticky }).insert('abc', 'x');
  });

  testOrSkip(isRoot ? undefined : 'needs root to chown')('a directory another user created first in a shared sticky folder is refused', async () => {
    const shared = newDirectory();
    mkdirSync(shared);
    chmodSync(shared, 0o1777);
    const planted = join(shared, 'tied-sessions');
    mkdirSync(planted, { mode: 0o755 });
    chownSync(planted, 12345, 12345);
    writeFileSync(join(planted, 'abc'), '{"json":{"admin":true}}');
    expect((await rejection(fileStore({ directory: planted }).materialize('abc')) as Error).message)
      .toBe(`Refusing the session directory ${planted}: it is owned by user 12345, not 0, in the shared folder ${shared}`);
  });
});

describe('fileStore atomic writes and temporary files', () => {
  test('insert and update leave no temporary file behind', async () => {
    const directory = newDirectory();
    const store = fileStore({ directory, fsync: true });
    await store.insert('abc', 'one');
    await store.update('abc', 'two');
    await rejection(store.insert('abc', 'three'));
    expect(filesUnder(directory)).toEqual(['abc']);
    expect(readFileSync(join(directory, 'abc'), 'utf8')).toBe('two');
  });

  test('insert is atomic: an existing file, even one written by another program, is never replaced', async () => {
    const directory = newDirectory();
    const store = fileStore({ directory });
    await store.materialize('abc').catch(() => undefined); // creates the directory
    writeFileSync(join(directory, 'abc'), 'written by Perl');
    expect(await rejection(store.insert('abc', 'mine'))).toBeInstanceOf(SessionExistsError);
    expect(readFileSync(join(directory, 'abc'), 'utf8')).toBe('written by Perl');
  });

  test('temporary files and Perl lock files are neither listed nor reachable as sessions', async () => {
    const directory = newDirectory();
    const store = fileStore({ directory });
    await store.insert('abc', 'x');
    writeFileSync(join(directory, '.tmp-1-0-1'), 'half a ses');
    writeFileSync(join(directory, 'Apache-Session-abc.lock'), '');
    const listed = [];
    for await (const info of store.list()) listed.push(info);
    expect(listed).toEqual([{ id: 'abc', updatedAt: expect.any(Number), size: 1 }]);
    expect(await rejection(store.materialize('.tmp-1-0-1'))).toBeInstanceOf(InvalidSessionIdError);
  });

  test('purge removes old sessions and stale temporary files, counts only sessions, and leaves lock files', async () => {
    const directory = newDirectory();
    const store = fileStore({ directory });
    const hourAgo = Date.now() / 1000 - 3600;
    await store.insert('old', 'x');
    await store.insert('new', 'x');
    writeFileSync(join(directory, '.tmp-1-0-1'), 'left by a crash');
    writeFileSync(join(directory, '.tmp-1-0-2'), 'being written now');
    writeFileSync(join(directory, 'Apache-Session-old.lock'), '');
    for (const name of ['old', '.tmp-1-0-1', 'Apache-Session-old.lock']) utimesSync(join(directory, name), hourAgo, hourAgo);
    expect(await store.purge({ olderThan: 60_000 })).toBe(1);
    expect(filesUnder(directory)).toEqual(['.tmp-1-0-2', 'Apache-Session-old.lock', 'new']);
    expect(await rejection(store.materialize('old'))).toBeInstanceOf(SessionNotFoundError);
  });

  test('list and purge of a directory not created yet find nothing', async () => {
    const store = fileStore({ directory: newDirectory() });
    for await (const info of store.list()) throw new Error(`unexpected ${info.id}`);
    expect(await store.purge({ olderThan: 0 })).toBe(0);
  });
});

describe('fileStore reads and replaces only regular session files', () => {
  const MATERIALIZE = new URL('./fixtures/file-materialize.mjs', import.meta.url).pathname;

  /** A store whose directory holds `plant(path)` at the session file of `id`. */
  const planted = async (plant: (path: string) => void) => {
    const directory = newDirectory();
    const store = fileStore({ directory });
    await store.insert('other', 'x'); // creates the directory
    const id = freshId();
    plant(store.pathOf(id));
    return { directory, store, id, path: store.pathOf(id) };
  };

  test('a FIFO where a session file should be: SessionCorruptError at once, the process does not block', async () => {
    const { directory, id, path } = await planted((at) => execFileSync('mkfifo', ['-m', '600', at]));
    const output = execFileSync(process.execPath, [MATERIALIZE, directory, id], { encoding: 'utf8', timeout: 20_000 });
    expect(output).toBe(`SessionCorruptError: The session file ${path} is a FIFO, not a regular file: tied does not follow or read it`);
  });

  test('a directory there: SessionCorruptError naming it for materialize, update and remove, not a raw EISDIR', async () => {
    const { store, id, path } = await planted((at) => mkdirSync(at));
    for (const call of [store.materialize(id), store.update(id, 'x'), store.remove(id)]) {
      const error = await rejection(call);
      expect(error).toBeInstanceOf(SessionCorruptError);
      expect((error as Error).message).toBe(`The session file ${path} is a directory, not a regular file: tied does not follow or read it`);
    }
    expect(statSync(path).isDirectory()).toBe(true);
  });

  test('a symbolic link there is neither followed nor replaced: its target keeps its content', async () => {
    const target = join(root, `target-${freshId()}`);
    writeFileSync(target, '{"json":{"admin":true}}');
    const { store, id, path } = await planted((at) => symlinkSync(target, at));
    for (const call of [store.materialize(id), store.update(id, 'pwned')]) {
      expect(await rejection(call)).toMatchObject({ code: 'ERR_SESSION_CORRUPT', message: expect.stringContaining(`${path} is a symbolic link`) });
    }
    expect(lstatSync(path).isSymbolicLink()).toBe(true);
    expect(readFileSync(target, 'utf8')).toBe('{"json":{"admin":true}}');
  });
});

describe('fileStore refuses ids that are not plain file names', () => {
  const unsafe = [...hostileIds, '.hidden', '.tmp-1-0-1', 'Grüße', 'x'.repeat(201)];

  test.each(['insert', 'update', 'materialize', 'remove'] as const)('%s: InvalidSessionIdError, and nothing touched on disk', async (method) => {
    const parent = newDirectory();
    mkdirSync(parent);
    const directory = join(parent, 'sessions');
    const store = fileStore({ directory });
    await store.insert('abc', 'x');
    const before = filesUnder(parent);
    for (const id of unsafe) {
      const call = method === 'materialize' || method === 'remove' ? store[method](id as string) : store[method](id as string, 'pwned');
      expect(await rejection(call)).toBeInstanceOf(InvalidSessionIdError);
    }
    expect(filesUnder(parent)).toEqual(before);
    expect(readFileSync(join(directory, 'abc'), 'utf8')).toBe('x');
  });

  test('a refusal never echoes a huge id', async () => {
    const error = await rejection(fileStore({ directory: newDirectory() }).materialize('z'.repeat(10_000))) as Error;
    expect(error.message.length).toBeLessThan(300);
  });
});
