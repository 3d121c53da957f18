import { afterAll, describe, expect, test } from '@jest/globals';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import {
  chmodSync, chownSync, existsSync, linkSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, unlinkSync, utimesSync, writeFileSync,
} from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freshId, hostileIds, lockerSuite, testOrSkip } from '@tied/conformance/jest';
import { InvalidSessionIdError, LockTimeoutError, type Lock } from '@tied/core';
import { fileLocker, LockFileError } from '@tied/lockers/file';
import { fileStore } from '@tied/stores/file';

const root = mkdtempSync(join(tmpdir(), 'tied-file-locker-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

lockerSuite({
  name: 'fileLocker',
  factory: () => fileLocker({ lockDirectory: join(root, 'conformance') }),
  store: () => fileStore({ directory: join(root, 'conformance-sessions') }),
});

let dirCount = 0;
const newDirectory = () => join(root, `d${++dirCount}`);

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

/** 'granted' or 'waiting' after `ms`, without giving up the acquire. */
async function stateAfter(acquiring: Promise<Lock>, ms: number): Promise<'granted' | 'waiting'> {
  const timer = new Promise<'waiting'>((resolve) => setTimeout(resolve, ms, 'waiting'));
  return Promise.race([acquiring.then(() => 'granted' as const), timer]);
}

/** Starts a child and resolves once it printed `ready`. */
async function startChild(command: string, args: string[], ready: string): Promise<ChildProcess> {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`${command} exited with ${code} before it was ready`)));
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => { if (chunk.includes(ready)) resolve(); });
  });
  return child;
}

async function kill(child: ChildProcess): Promise<void> {
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

describe('fileLocker lock files', () => {
  test('locks <lockDirectory>/Apache-Session-<id>.lock, created 0600 in a 0700 directory made on first use', async () => {
    const lockDirectory = newDirectory();
    const locker = fileLocker({ lockDirectory });
    const lock = await locker.acquire('abc123', 'write');
    expect(readdirSync(lockDirectory)).toEqual(['Apache-Session-abc123.lock']);
    expect(locker.pathOf('abc123')).toBe(join(lockDirectory, 'Apache-Session-abc123.lock'));
    expect(statSync(lockDirectory).mode & 0o777).toBe(0o700 & ~process.umask());
    expect(statSync(locker.pathOf('abc123')).mode & 0o777).toBe(0o600 & ~process.umask());
    await lock.release();
  });

  test('a missing parent gives one error naming the directory and its parent', async () => {
    const lockDirectory = join(root, 'no-such-parent', 'locks');
    const error = await rejection(fileLocker({ lockDirectory }).acquire('abc', 'write')) as Error;
    expect(error.message).toBe(`Cannot create the lock directory ${lockDirectory}: its parent ${join(root, 'no-such-parent')} does not exist (ENOENT)`);
  });

  test('ids that are not plain file names are refused with InvalidSessionIdError, nothing created', async () => {
    const lockDirectory = newDirectory();
    const locker = fileLocker({ lockDirectory });
    for (const id of [...hostileIds, 'Grüße']) {
      expect(await rejection(locker.acquire(id as string, 'write'))).toBeInstanceOf(InvalidSessionIdError);
    }
    expect(existsSync(lockDirectory)).toBe(false);
  });
});

describe('fileLocker refuses lock files it did not make', () => {
  const isRoot = process.getuid?.() === 0;

  /** A lock directory holding `plant(path)` at the lock file of `id`. */
  const planted = (plant: (path: string) => void) => {
    const lockDirectory = newDirectory();
    mkdirSync(lockDirectory, { mode: 0o700 });
    const locker = fileLocker({ lockDirectory });
    const id = freshId();
    plant(locker.pathOf(id));
    return { locker, id, path: locker.pathOf(id) };
  };

  test('a symbolic link planted at Apache-Session-<id>.lock: LockFileError, and its target is neither emptied nor touched', async () => {
    const target = join(root, `target-${freshId()}`);
    writeFileSync(target, 'precious');
    const hourAgo = Math.floor(Date.now() / 1000) - 3600;
    utimesSync(target, hourAgo, hourAgo);
    const { locker, id, path } = planted((at) => symlinkSync(target, at));
    for (const mode of ['read', 'write'] as const) {
      const error = await rejection(locker.acquire(id, mode, { timeout: 1000 }));
      expect(error).toBeInstanceOf(LockFileError);
      expect(error).toMatchObject({ code: 'ERR_LOCK_FILE', path, message: expect.stringContaining(`${path} is a symbolic link, not a regular file`) });
    }
    expect(readFileSync(target, 'utf8')).toBe('precious');
    expect(statSync(target).mtimeMs).toBe(hourAgo * 1000);
    expect(lstatSync(path).isSymbolicLink()).toBe(true);
  });

  test('a FIFO there fails at once instead of blocking, a directory is named as one', async () => {
    const fifo = planted((at) => execFileSync('mkfifo', ['-m', '600', at]));
    expect(await rejection(fifo.locker.acquire(fifo.id, 'write', { timeout: 1000 }))).toMatchObject({ code: 'ERR_LOCK_FILE', message: expect.stringContaining('is a FIFO, not a regular file') });
    const directory = planted((at) => mkdirSync(at));
    expect(await rejection(directory.locker.acquire(directory.id, 'read', { timeout: 1000 }))).toMatchObject({ code: 'ERR_LOCK_FILE', message: expect.stringContaining('is a directory, not a regular file') });
  });

  test('a hard link to another file is refused, and that file keeps its content', async () => {
    const other = join(root, `other-${freshId()}`);
    writeFileSync(other, 'a session of someone', { mode: 0o600 });
    const { locker, id } = planted((at) => linkSync(other, at));
    expect(await rejection(locker.acquire(id, 'write', { timeout: 1000 }))).toMatchObject({ code: 'ERR_LOCK_FILE', message: expect.stringContaining('a file with 2 hard links') });
    expect(readFileSync(other, 'utf8')).toBe('a session of someone');
  });

  testOrSkip(isRoot ? undefined : 'needs root to chown')('a lock file of another user, or a lock directory another user made in a shared sticky folder, is refused', async () => {
    const { locker, id, path } = planted((at) => {
      writeFileSync(at, '', { mode: 0o666 });
      chownSync(at, 12345, 12345);
    });
    expect(await rejection(locker.acquire(id, 'write', { timeout: 1000 }))).toMatchObject({ code: 'ERR_LOCK_FILE', message: expect.stringContaining(`${path} is owned by user 12345, not 0`) });
    const shared = newDirectory();
    mkdirSync(shared);
    chmodSync(shared, 0o1777);
    const lockDirectory = join(shared, 'locks');
    mkdirSync(lockDirectory, { mode: 0o777 });
    chownSync(lockDirectory, 12345, 12345);
    expect((await rejection(fileLocker({ lockDirectory }).acquire('abc', 'write')) as Error).message)
      .toBe(`Refusing the lock directory ${lockDirectory}: it is owned by user 12345, not 0, in the shared folder ${shared}`);
  });

  testOrSkip(isRoot ? undefined : 'needs root to chown and to run as nobody')('another user\'s lock file this user may not even open: LockFileError naming its owner, not a bare EACCES', () => {
    // Run as nobody (after loading the locker as root: the checkout may be out of nobody's reach),
    // in a folder nobody can reach.
    const reachable = mkdtempSync(join(tmpdir(), 'tied-file-locker-nobody-'));
    try {
      chmodSync(reachable, 0o755);
      const lockDirectory = join(reachable, 'locks');
      mkdirSync(lockDirectory, { mode: 0o755 });
      const path = join(lockDirectory, 'Apache-Session-abc.lock');
      writeFileSync(path, '', { mode: 0o644 });
      chownSync(path, 12345, 12345);
      const output = execFileSync(process.execPath, [new URL('./fixtures/file-lock-as.mjs', import.meta.url).pathname, lockDirectory, 'abc', '65534'], { encoding: 'utf8' });
      expect(output).toBe(`ERR_LOCK_FILE: The lock file ${path} is owned by user 12345, not 65534: tied does not follow, truncate or lock it (it may have been planted; remove it, and keep lock files in a private directory)`);
    } finally {
      rmSync(reachable, { recursive: true, force: true });
    }
  });

  test('a lock file that is already there is locked without being truncated; the lock marks it used', async () => {
    const { locker, id, path } = planted((at) => writeFileSync(at, 'written by someone', { mode: 0o600 }));
    const hourAgo = Date.now() / 1000 - 3600;
    utimesSync(path, hourAgo, hourAgo);
    await (await locker.acquire(id, 'write')).release();
    expect(readFileSync(path, 'utf8')).toBe('written by someone');
    expect(statSync(path).mtimeMs).toBeGreaterThan(Date.now() - 60_000);
  });
});

describe('fileLocker without flock', () => {
  test('when koffi cannot be loaded, every lock fails with FlockUnavailableError naming it, and nothing is locked', () => {
    const fixture = new URL('./fixtures/file-lock-without-koffi.mjs', import.meta.url).pathname;
    const lockDirectory = newDirectory();
    const lines = execFileSync(process.execPath, [fixture, lockDirectory], { encoding: 'utf8' }).trim().split('\n');
    expect(lines).toHaveLength(2);
    for (const line of lines) {
      expect(line).toMatch(/^FlockUnavailableError ERR_FLOCK_UNAVAILABLE: The file locker calls flock\(2\) through the koffi package, which could not be loaded .*Cannot find module 'koffi'/);
    }
  });
});

describe('fileLocker across processes', () => {
  const holder = new URL('./fixtures/file-lock-holder.mjs', import.meta.url).pathname;

  test('a child holding a write lock is SIGKILLed: the lock is acquired within a second', async () => {
    const lockDirectory = newDirectory();
    const id = freshId();
    const child = await startChild(process.execPath, [holder, lockDirectory, id], 'locked');
    const locker = fileLocker({ lockDirectory });
    expect(await rejection(locker.acquire(id, 'read', { timeout: 200 }))).toBeInstanceOf(LockTimeoutError);
    const acquiring = locker.acquire(id, 'write', { timeout: 1000 });
    await kill(child);
    await (await acquiring).release();
  });

  test('waiting for other processes does not occupy the threadpool: file I/O goes on meanwhile', async () => {
    const lockDirectory = newDirectory();
    const ids = Array.from({ length: 8 }, freshId);
    // Twice libuv's default of 4 threads: blocking flock calls in the threadpool would stall readFile.
    const holders = await Promise.all(ids.map((id) => startChild(process.execPath, [holder, lockDirectory, id], 'locked')));
    const locker = fileLocker({ lockDirectory });
    const waiting = ids.map((id) => locker.acquire(id, 'write'));
    const io = readFile(holder, 'utf8').then(() => 'read');
    let timer: NodeJS.Timeout | undefined;
    const stalled = new Promise((resolve) => { timer = setTimeout(resolve, 5000, 'stalled'); });
    expect(await Promise.race([io, stalled])).toBe('read');
    clearTimeout(timer);
    expect(await stateAfter(waiting[0]!, 0)).toBe('waiting');
    await Promise.all(holders.map(kill));
    await Promise.all((await Promise.all(waiting)).map((lock) => lock.release()));
  });
});

describe('fileLocker: readers do not starve a writer', () => {
  const readerLoop = new URL('./fixtures/file-reader-loop.mjs', import.meta.url).pathname;
  const WRITES = 50;
  const HOLD = 10; // ms each write holds its lock
  const READER_HOLD = 5; // ms each read holds its lock

  /** Time for `WRITES` write locks, each held `HOLD` ms, taken one after the other. */
  async function timeWrites(locker: ReturnType<typeof fileLocker>, id: string, signal: AbortSignal): Promise<number> {
    const start = performance.now();
    for (let i = 0; i < WRITES; i++) {
      const lock = await locker.acquire(id, 'write', { signal });
      await new Promise((resolve) => setTimeout(resolve, HOLD));
      await lock.release();
      // The writer's other work, between two writes: readers may read then.
      await new Promise((resolve) => setTimeout(resolve, HOLD));
    }
    return performance.now() - start;
  }

  test('a reader waits while a writer of another process holds the gate; a gate nobody holds (its writer was killed) holds nobody back', async () => {
    const lockDirectory = newDirectory();
    const id = freshId();
    const locker = fileLocker({ lockDirectory });
    const gate = join(lockDirectory, `.Apache-Session-${id}.gate`);
    await (await locker.acquire(id, 'read')).release(); // creates the directory
    writeFileSync(gate, '', { mode: 0o600 });
    await (await locker.acquire(id, 'read', { timeout: 1000 })).release();
    // A waiting writer elsewhere: its gate is held.
    const reader = await locker.acquire(id, 'read');
    const writer = fileLocker({ lockDirectory }).acquire(id, 'write');
    expect(await stateAfter(writer, 50)).toBe('waiting');
    const lateReader = fileLocker({ lockDirectory }).acquire(id, 'read');
    expect(await stateAfter(lateReader, 50)).toBe('waiting');
    await reader.release();
    await (await writer).release();
    await (await lateReader).release();
    expect(existsSync(gate)).toBe(false);
  });

  test('with 6 reader processes taking shared locks in a loop, 50 writes take under 5 times their time alone', async () => {
    const lockDirectory = newDirectory();
    const id = freshId();
    const locker = fileLocker({ lockDirectory });
    const alone = await timeWrites(locker, id, AbortSignal.timeout(60_000));
    const readers = await Promise.all(Array.from({ length: 6 }, () => startChild(process.execPath, [readerLoop, lockDirectory, id, String(READER_HOLD)], 'ready')));
    try {
      let reads = 0;
      for (const reader of readers) reader.stdout!.on('data', (chunk: string) => { reads += chunk.split('.').length - 1; });
      // Starved, the writes would not end (50 took 59 s before the writer's gate): give up, and fail, after 30 s.
      const contended = await timeWrites(locker, id, AbortSignal.timeout(30_000));
      // The readers kept reading meanwhile (a test without them would prove nothing).
      expect(reads).toBeGreaterThan(WRITES);
      expect(contended).toBeLessThan(5 * alone);
    } finally {
      await Promise.all(readers.map(kill));
    }
  }, 120_000);
});

const perl = (() => {
  try {
    execFileSync('perl', ['-MFcntl=:flock', '-e1'], { stdio: 'ignore' });
    return undefined;
  } catch (error) {
    return `perl unavailable (${(error as Error).message})`;
  }
})();

describe('fileLocker and Perl\'s Apache::Session::Lock::File exclude each other', () => {
  const perlTest = testOrSkip(perl);

  /** What Perl's non-blocking flock of the lock file reports: 'free' or 'busy'. */
  const perlTry = (path: string, kind: 'LOCK_SH' | 'LOCK_EX') => execFileSync('perl', [
    '-MFcntl=:flock', '-e', `open(my $fh, '+>', $ARGV[0]) or die $!; print flock($fh, ${kind} | LOCK_NB) ? 'free' : 'busy'`, path,
  ], { encoding: 'utf8' });

  perlTest('a Node write lock is exclusive and a read lock shared, for Perl too', async () => {
    const locker = fileLocker({ lockDirectory: newDirectory() });
    const id = freshId();
    const path = locker.pathOf(id);
    const writer = await locker.acquire(id, 'write');
    expect([perlTry(path, 'LOCK_SH'), perlTry(path, 'LOCK_EX')]).toEqual(['busy', 'busy']);
    await writer.release();
    const reader = await locker.acquire(id, 'read');
    expect([perlTry(path, 'LOCK_SH'), perlTry(path, 'LOCK_EX')]).toEqual(['free', 'busy']);
    await reader.release();
    expect(perlTry(path, 'LOCK_EX')).toBe('free');
  });

  perlTest('a lock held by Perl\'s Lock::File makes Node wait until Perl lets go', async () => {
    const lockDirectory = newDirectory();
    mkdirSync(lockDirectory);
    const id = freshId();
    const child = await startChild('perl', ['-MApache::Session::Lock::File', '-e', `
      $| = 1;
      my $lock = Apache::Session::Lock::File->new;
      my $session = { data => { _session_id => $ARGV[1] }, args => { LockDirectory => $ARGV[0] } };
      $lock->acquire_write_lock($session);
      print "locked\\n";
      sleep 60;`, lockDirectory, id], 'locked');
    const locker = fileLocker({ lockDirectory });
    expect(await rejection(locker.acquire(id, 'read', { timeout: 200 }))).toBeInstanceOf(LockTimeoutError);
    const acquiring = locker.acquire(id, 'write', { timeout: 2000 });
    await kill(child);
    await (await acquiring).release();
  });
});

describe('fileLocker clean', () => {
  test('removes old unused lock files (and writer gates) only: not one in use, not a fresh one, not other files', async () => {
    const lockDirectory = newDirectory();
    const locker = fileLocker({ lockDirectory });
    const [old, busy, fresh] = ['old', 'busy', 'fresh'];
    for (const id of [old, busy, fresh]) await (await locker.acquire(id, 'write')).release();
    writeFileSync(join(lockDirectory, 'notes.txt'), '');
    // A writer's gate left by a writer that was killed while it waited.
    writeFileSync(join(lockDirectory, '.Apache-Session-old.gate'), '', { mode: 0o600 });
    const held = await locker.acquire(busy, 'read');
    const hourAgo = Date.now() / 1000 - 3600;
    for (const name of ['Apache-Session-old.lock', 'Apache-Session-busy.lock', 'notes.txt', '.Apache-Session-old.gate']) utimesSync(join(lockDirectory, name), hourAgo, hourAgo);
    // The stale gate goes too, but only lock files are counted.
    expect(await locker.clean({ olderThan: 60_000 })).toBe(1);
    expect(readdirSync(lockDirectory).sort()).toEqual(['Apache-Session-busy.lock', 'Apache-Session-fresh.lock', 'notes.txt']);
    await held.release();
    expect(await fileLocker({ lockDirectory: newDirectory() }).clean({ olderThan: 0 })).toBe(0);
  });

  test('a waiter whose lock file was unlinked meanwhile locks the file now at the path', async () => {
    const lockDirectory = newDirectory();
    const id = freshId();
    const first = fileLocker({ lockDirectory });
    const other = fileLocker({ lockDirectory });
    const holding = await first.acquire(id, 'write');
    const waiter = other.acquire(id, 'write');
    expect(await stateAfter(waiter, 50)).toBe('waiting');
    // As an old Perl clean() racing with us would: the waiter now waits on a file no one else will open.
    unlinkSync(first.pathOf(id));
    const newcomer = await fileLocker({ lockDirectory }).acquire(id, 'write', { timeout: 1000 });
    await holding.release();
    expect(await stateAfter(waiter, 150)).toBe('waiting');
    await newcomer.release();
    await (await waiter).release();
  });
});
