import { afterAll, describe, expect, test } from '@jest/globals';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { hostileIds } from '@tied/conformance/jest';
import { nanoid } from '@tied/generators';
import { fileLocker } from '@tied/lockers/file';
import { superjson } from '@tied/serializers';
import { fileStore } from '@tied/stores/file';

const root = mkdtempSync(join(tmpdir(), 'tied-file-session-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

// The embedded default's directory is read when tied is imported.
process.env.TIED_DIRECTORY = join(root, 'default');
const { FileSession, defaultDirectory, defineSession, openSession, tied, touch, InvalidSessionIdError, SessionCorruptError, SessionNotFoundError } = await import('tied');
delete process.env.TIED_DIRECTORY;

const INCREMENTER = new URL('./fixtures/file-increment.mjs', import.meta.url).pathname;

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

/** Sets the time of the last save kept in a two-slot file's newest slot (its slot header, CRC32 included). */
function saveTimeOf(path: string, updatedAt: number): void {
  const file = readFileSync(path);
  const capacity = file.readUInt32LE(8);
  const slots = [16, 16 + capacity];
  const newest = slots.reduce((a, b) => (file.readUIntLE(b + 4, 6) > file.readUIntLE(a + 4, 6) ? b : a));
  file.writeDoubleLE(updatedAt, newest + 12);
  file.writeUInt32LE(crc32(file.subarray(newest + 4, newest + 32 + file.readUInt32LE(newest + 20))), newest);
  writeFileSync(path, file);
}

/** A saved FileSession holding `data`; returns its id. */
async function saved(data: Record<string, unknown>): Promise<string> {
  const session = await FileSession.open();
  Object.assign(session, data);
  await tied(session)!.release();
  return tied(session)!.id;
}

describe('the embedded default', () => {
  test('openSession() with no part names is FileSession in $TIED_DIRECTORY', async () => {
    expect(defaultDirectory).toBe(join(root, 'default'));
    const session = await openSession();
    session.user = { name: 'Ann', state: 'Ohio' };
    const id = session._session_id;
    await tied(session)!.release();
    // One two-slot file, locked on itself: no lock file.
    expect(readdirSync(defaultDirectory)).toEqual([id]);
    expect(readFileSync(join(defaultDirectory, id)).subarray(0, 8).toString('latin1')).toBe('TIEDSLT1');
    await using again = await FileSession.open(id);
    expect(again.user).toEqual({ name: 'Ann', state: 'Ohio' });
  });

  test('directory (or Perl\'s Directory) chooses where the default keeps its files', async () => {
    for (const key of ['directory', 'Directory']) {
      const directory = join(root, `${key}-slots`);
      const session = await openSession(undefined, { [key]: directory });
      await tied(session)!.release();
      expect(readdirSync(directory)).toEqual([tied(session)!.id]);
    }
    await expect(openSession(undefined, { lockDirectory: join(root, 'x') })).rejects.toThrow(TypeError);
  });

  test('Flex File (Perl\'s format): directory and lockDirectory (or Directory and LockDirectory) choose where files and locks go', async () => {
    for (const [directoryKey, lockKey] of [['directory', 'lockDirectory'], ['Directory', 'LockDirectory']]) {
      const directory = join(root, `${directoryKey}-sessions`);
      const lockDirectory = join(root, `${directoryKey}-locks`);
      const session = await openSession(undefined, { store: 'File', [directoryKey!]: directory, [lockKey!]: lockDirectory });
      const id = session._session_id;
      await tied(session)!.release();
      expect(readdirSync(directory)).toEqual([id]);
      expect(readdirSync(lockDirectory)).toEqual([`Apache-Session-${id}.lock`]);
    }
    const alone = join(root, 'only-directory');
    const session = await openSession(undefined, { store: 'File', directory: alone });
    await tied(session)!.release();
    expect(readdirSync(alone)).toContain(`Apache-Session-${tied(session)!.id}.lock`);
  });

  test('a nested change is not saved without touch, as in Apache::Session; with touch it is', async () => {
    const id = await saved({ user: { state: 'Ohio' } });
    const first = await FileSession.open(id);
    first.user.state = 'Texas';
    await tied(first)!.release();
    const second = await FileSession.open(id);
    expect(second.user.state).toBe('Ohio');
    second.user.state = 'Texas';
    touch(second);
    await tied(second)!.release();
    await using third = await FileSession.open(id);
    expect(third.user.state).toBe('Texas');
  });
});

describe('FileSession faults and bad input', () => {
  test('4 processes × 250 increments of one session through openSession(id) end at exactly 1000', async () => {
    const directory = join(root, 'increments');
    const created = await openSession(undefined, { directory });
    created.count = 0;
    const id = created._session_id;
    await tied(created)!.release();
    const codes = await Promise.all(Array.from({ length: 4 }, () => new Promise((resolve) => {
      spawn(process.execPath, [INCREMENTER, directory, id, '250'], { stdio: 'inherit' }).once('exit', resolve);
    })));
    expect(codes).toEqual([0, 0, 0, 0]);
    await using final = await openSession(id, { directory, readonly: true });
    expect(final.count).toBe(1000);
  });

  test('maxAge: a session not saved for longer is missing, and its file removed', async () => {
    const id = await saved({ a: 1 });
    await using fresh = await FileSession.open(id, { maxAge: 60_000, readonly: true });
    expect(fresh.a).toBe(1);
    await tied(fresh)!.release();
    const path = join(defaultDirectory, id);
    saveTimeOf(path, Date.now() - 120_000);
    const error = await rejection(FileSession.open(id, { maxAge: 60_000 }));
    expect(error).toBeInstanceOf(SessionNotFoundError);
    expect((error as Error).message).toContain('Object does not exist in the data store');
    expect(existsSync(path)).toBe(false);
  });

  test('a corrupt session file gives SessionCorruptError and is left as it was; the lock is released', async () => {
    const id = await saved({ a: 1 });
    const path = join(defaultDirectory, id);
    writeFileSync(path, '{"json": {"a": 1');
    expect(await rejection(FileSession.open(id))).toBeInstanceOf(SessionCorruptError);
    expect(readFileSync(path, 'utf8')).toBe('{"json": {"a": 1');
    expect(await rejection(FileSession.open(id, { lockTimeout: 500 }))).toBeInstanceOf(SessionCorruptError);
  });

  test('hostile ids never reach the store, the locker or the file system', async () => {
    const directory = join(root, 'hostile');
    const calls: string[] = [];
    // Real parts, wrapped to record every call that reaches them.
    const recorded = <T extends object>(part: T, role: string): T => new Proxy(part, {
      get(target, key) {
        const value = Reflect.get(target, key);
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          calls.push(`${role}.${String(key)}`);
          return value.apply(target, args);
        };
      },
    });
    const Flavor = defineSession({
      store: recorded(fileStore({ directory }), 'store'),
      locker: recorded(fileLocker({ lockDirectory: directory }), 'locker'),
      generator: nanoid(),
      serializer: superjson(),
    });
    // Made once, with no id: the flavor asks the store whether it fuses with the locker.
    expect(calls).toEqual(['store.fuse']);
    calls.length = 0;
    const ids = [...hostileIds.filter((id) => id !== undefined && id !== null), '../../etc/passwd', 'a/b', '.', '..', '\0', 'x'.repeat(10_000)];
    for (const id of ids) {
      expect(await rejection(Flavor.open(id as string))).toBeInstanceOf(InvalidSessionIdError);
      expect(await rejection(openSession(id as string, { directory }))).toBeInstanceOf(InvalidSessionIdError);
    }
    expect(calls).toEqual([]);
    expect(existsSync(directory)).toBe(false);
  });
});

describe('FileSession leaves no lock file behind a session that does not exist', () => {
  /** A file flavor of its own in a fresh directory (sessions and lock files together). */
  const flavorIn = (directory: string) => defineSession({
    store: fileStore({ directory }),
    locker: fileLocker({ lockDirectory: directory }),
    generator: nanoid(),
    serializer: superjson(),
  });
  const lockFiles = (directory: string) => existsSync(directory) ? readdirSync(directory, { recursive: true }).filter((name) => String(name).includes('Apache-Session-')) : [];

  test('opening an absent id, for writing or readonly, removes the lock file it created', async () => {
    const directory = join(root, 'absent');
    const Flavor = flavorIn(directory);
    const id = 'absentsessionid000000'; // a nanoid's 21 characters
    for (const options of [{}, { readonly: true }, { transaction: false }]) {
      expect(await rejection(Flavor.open(id, options))).toBeInstanceOf(SessionNotFoundError);
      expect(lockFiles(directory)).toEqual([]);
    }
  });

  test('not while another holder has the lock file: a reader elsewhere keeps it, and its lock', async () => {
    const directory = join(root, 'absent-held');
    const Flavor = flavorIn(directory);
    const id = 'absentsessionid000001';
    // Another locker is another open file description: to flock, another process.
    const elsewhere = fileLocker({ lockDirectory: directory });
    const held = await elsewhere.acquire(id, 'read');
    expect(await rejection(Flavor.open(id, { readonly: true }))).toBeInstanceOf(SessionNotFoundError);
    expect(lockFiles(directory)).toEqual([`Apache-Session-${id}.lock`]);
    // Its lock still excludes a writer that opens the file at the path.
    expect(await rejection(fileLocker({ lockDirectory: directory }).acquire(id, 'write', { timeout: 100 }))).toMatchObject({ code: 'ERR_LOCK_TIMEOUT' });
    await held.release();
  });

  test('deleting a session removes its lock file too; purge removes stale lock files with old sessions', async () => {
    const directory = join(root, 'deleted');
    const Flavor = flavorIn(directory);
    const session = await Flavor.open();
    session.n = 1;
    await tied(session).delete();
    expect(readdirSync(directory)).toEqual([]);

    const old = await Flavor.open();
    old.n = 1;
    await tied(old).release();
    // A lock file left by a process that died while holding a session that never existed.
    writeFileSync(join(directory, 'Apache-Session-crashed.lock'), '', { mode: 0o600 });
    const hourAgo = Date.now() / 1000 - 3600;
    for (const name of readdirSync(directory)) utimesSync(join(directory, name), hourAgo, hourAgo);
    expect(await Flavor.purge({ olderThan: 60_000 })).toBe(1);
    expect(readdirSync(directory)).toEqual([]);
  });
});

describe('a session opened twice in one async flow', () => {
  test('the process keeps waiting, visibly: a TIED_LOCK_WAIT warning after 5 s names the session and this process', async () => {
    const child = spawn(process.execPath, [new URL('./fixtures/open-twice.mjs', import.meta.url).pathname], {
      env: { ...process.env, TIED_DIRECTORY: join(root, 'twice') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => { stdout += chunk; });
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    const warned = new Promise<void>((resolve) => {
      child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
        stderr += chunk;
        if (stderr.includes('TIED_LOCK_WAIT')) resolve();
      });
    });
    // Before, Node saw nothing pending and exited at once with code 13 and no message.
    const first = await Promise.race([warned.then(() => 'warned'), exited.then((code) => `exited with ${code}`)]);
    expect(first).toBe('warned');
    const id = stdout.trim();
    expect(stderr).toContain(`[TIED_LOCK_WAIT] Warning: Session ${id} has waited 5 s for its write lock, held by another session of this same process.`);
    expect(child.exitCode).toBeNull();
    child.kill('SIGKILL');
    await exited;
  });
});
