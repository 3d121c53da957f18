import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from '@jest/globals';
import { InvalidSessionIdError, tied } from 'tied';
import { File } from 'tied/apache';
import { hostileIds } from '@tied/conformance/jest';
import type { FileLocker, FileStore } from '@tied/stores/file';
import { interopTests, perlUnavailable, type InteropConfig } from './apache-interop.js';

const skip = await perlUnavailable(['Apache::Session::File']);

const root = mkdtempSync(join(tmpdir(), 'tied-apache-file-'));
const directory = join(root, 'sessions');
const lockDirectory = join(root, 'locks');
// Perl's Store::File and Lock::File expect their directories to exist.
mkdirSync(directory, { mode: 0o700 });
mkdirSync(lockDirectory, { mode: 0o700 });
afterAll(() => rmSync(root, { recursive: true, force: true }));

const config: InteropConfig = { backend: 'File', directory, lockDirectory };

describe('tied/apache File: Perl\'s layout', () => {
  test('a session is the nfreeze bytes in <directory>/<id>, locked through <lockDirectory>/Apache-Session-<id>.lock', async () => {
    const session = await File.open(undefined, { Directory: directory, LockDirectory: lockDirectory });
    const id = session._session_id;
    expect(id).toMatch(/^[0-9a-f]{32}$/);
    session.name = 'Ann';
    await tied(session)!.release();
    // Storable's network-order header, then the session hash (SX_HASH).
    expect([...readFileSync(join(directory, id)).subarray(0, 3)]).toEqual([0x05, 0x0b, 0x03]);
    expect(statSync(join(lockDirectory, `Apache-Session-${id}.lock`)).isFile()).toBe(true);
  });

  test('without Directory and LockDirectory, sessions and lock files go to a private folder of this user, not Perl\'s world-writable /tmp', async () => {
    const { parts } = await File.flavor({});
    const privateFolder = join(tmpdir(), `tied-apache-${process.getuid!()}`);
    expect((parts.store as FileStore).directory).toBe(privateFolder);
    expect((parts.locker as FileLocker).lockDirectory).toBe(privateFolder);
    // Sharing Perl's default lock directory takes saying so.
    expect(((await File.flavor({ LockDirectory: '/tmp' })).parts.locker as FileLocker).lockDirectory).toBe('/tmp');
  });

  test('ids that Generate::MD5 would refuse never reach the store or the locker', async () => {
    for (const id of [...hostileIds.filter((hostile) => hostile !== undefined && hostile !== null), 'g'.repeat(32), 'abc-def']) {
      await expect(File.open(id as string, { directory, lockDirectory })).rejects.toBeInstanceOf(InvalidSessionIdError);
    }
    // Perl's validate accepts hex ids of any length: so does tied, in md5_hex's spelling (lower case) only.
    await expect(File.open('abcdef0123', { directory, lockDirectory })).rejects.toMatchObject({ code: 'ERR_SESSION_NOT_FOUND' });
    await expect(File.open('ABCDEF0123', { directory, lockDirectory })).rejects.toMatchObject({ code: 'ERR_INVALID_SESSION_ID' });
    await expect(File.open('abcDEF0123', { directory, lockDirectory })).rejects.toMatchObject({ code: 'ERR_INVALID_SESSION_ID' });
  });
});

interopTests('File', skip, () => ({
  config,
  open: (id, options) => File.open(id, { directory, lockDirectory, ...options }),
  // A process blocked in flock(2) shows in /proc/locks as "-> FLOCK ... <pid>".
  perlIsWaiting: async (pid) => new RegExp(`^\\d+: -> FLOCK\\s+ADVISORY\\s+\\w+\\s+${pid}\\s`, 'm').test(readFileSync('/proc/locks', 'utf8')),
}));
