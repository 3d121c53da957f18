import { afterAll, describe, expect, test } from '@jest/globals';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freshId, hostileIds, lockerSuite, testOrSkip } from '@tied/conformance/jest';
import { InvalidSessionIdError, LockTimeoutError, type Lock } from '@tied/core';
import { fileLocker } from '@tied/lockers/file';
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
  test('removes old unused lock files only: not one in use, not a fresh one, not other files', async () => {
    const lockDirectory = newDirectory();
    const locker = fileLocker({ lockDirectory });
    const [old, busy, fresh] = ['old', 'busy', 'fresh'];
    for (const id of [old, busy, fresh]) await (await locker.acquire(id, 'write')).release();
    writeFileSync(join(lockDirectory, 'notes.txt'), '');
    const held = await locker.acquire(busy, 'read');
    const hourAgo = Date.now() / 1000 - 3600;
    for (const name of ['Apache-Session-old.lock', 'Apache-Session-busy.lock', 'notes.txt']) utimesSync(join(lockDirectory, name), hourAgo, hourAgo);
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
