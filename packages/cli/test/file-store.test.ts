import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from '@jest/globals';
import { MIN_SECRET_LENGTH } from '@tied/http';
import { jsonLines, runTied } from './run-tied.js';

const root = mkdtempSync(join(tmpdir(), 'cli-file-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let storeCount = 0;
/** A fresh, empty file store. */
function freshStore(): { directory: string; url: string; tied: (...args: string[]) => ReturnType<typeof runTied> } {
  const directory = join(root, `store-${++storeCount}`);
  const url = `file://${directory}`;
  return { directory, url, tied: (...args: string[]) => runTied(['--store', url, ...args]) };
}

/** Makes the session file (and its lock file) look last saved `ageMs` ago. */
function age(directory: string, file: string, ageMs: number): void {
  const time = (Date.now() - ageMs) / 1000;
  utimesSync(join(directory, file), time, time);
}

const DAY = 86_400_000;

describe('tied on a file store', () => {
  test('new, show, get, set, unset, rm: the data round trip', async () => {
    const { tied } = freshStore();
    const created = await tied('new', '--set', 'user.name="Ann"', '--set', 'visits=1', '--set', 'cart.items=[{"sku":"a1","qty":2}]');
    expect(created).toMatchObject({ code: 0, stderr: '' });
    const id = created.stdout.trim();
    expect(id).toMatch(/^[A-Za-z0-9_-]{21}$/);

    expect(JSON.parse((await tied('show', id, '--json')).stdout)).toEqual({ user: { name: 'Ann' }, visits: 1, cart: { items: [{ sku: 'a1', qty: 2 }] } });
    // Not a terminal: no colour codes.
    expect((await tied('show', id)).stdout).toBe("{\n  cart: { items: [ { qty: 2, sku: 'a1' } ] },\n  user: { name: 'Ann' },\n  visits: 1\n}\n");
    expect((await tied('get', id, 'user.name')).stdout).toBe('"Ann"\n');
    expect((await tied('get', id, 'cart.items.0.qty')).stdout).toBe('2\n');

    expect(await tied('set', id, 'visits', '2')).toMatchObject({ code: 0, stdout: '', stderr: '' });
    // Nested: saved because set touches the session.
    expect((await tied('set', id, 'user.address.city', '"Zürich"')).code).toBe(0);
    expect((await tied('unset', id, 'cart.items.0')).code).toBe(0);
    const data = JSON.parse((await tied('show', id, '--json')).stdout) as Record<string, unknown>;
    expect(data).toMatchObject({ user: { name: 'Ann', address: { city: 'Zürich' } }, visits: 2, cart: { items: [] } });
    expect(typeof data._session_timestamp).toBe('number');

    const missingPath = await tied('get', id, 'user.email');
    expect(missingPath).toMatchObject({ code: 5, stdout: '' });
    expect(missingPath.stderr).toBe(`tied: Session ${id} has no value at user.email\n`);
    expect((await tied('unset', id, 'user.email')).code).toBe(5);

    const other = (await tied('new')).stdout.trim();
    expect(await tied('rm', id, other)).toMatchObject({ code: 0, stdout: '', stderr: '' });
    const gone = await tied('show', id);
    expect(gone).toMatchObject({ code: 5, stderr: `tied: Object does not exist in the data store: ${id}\n` });
    expect(await tied('rm', id)).toMatchObject({ code: 5, stderr: `tied: No session ${id}\n` });
  });

  test('a failed set changes nothing: bad JSON, a path through a non-object', async () => {
    const { tied } = freshStore();
    const id = (await tied('new', '--set', 'n=1')).stdout.trim();
    const badJson = await tied('set', id, 'name', 'Ann');
    expect(badJson.code).toBe(2);
    expect(badJson.stderr).toMatch(/^tied: set: "Ann" is not JSON \(a string needs its quotes: '"Ann"'\)/);
    const throughNumber = await tied('set', id, 'n.deeper', '1');
    expect(throughNumber).toMatchObject({ code: 2, stderr: 'tied: Cannot go into n: it holds a number, not an object\n' });
    expect((await tied('set', id, '__proto__.x', '1')).code).toBe(2);
    expect((await tied('set', id, '_session_id', '"x"')).code).toBe(2);
    expect(JSON.parse((await tied('show', id, '--json')).stdout)).toEqual({ n: 1 });
    // A new session whose --set fails is not left behind.
    expect((await tied('new', '--set', 'a=1', '--set', 'a.b=2')).code).toBe(2);
    expect(jsonLines((await tied('ls', '--json')).stdout).map((entry) => entry.id)).toEqual([id]);
  });

  test('ls: newest first, --limit, --older-than, --json lines and tab-separated lines', async () => {
    const { directory, tied } = freshStore();
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) ids.push((await tied('new', '--set', `i=${i}`)).stdout.trim());
    // ids[0] is 4 days old, ids[1] 3 days, ... ids[3] 1 day.
    ids.forEach((id, i) => age(directory, id, (4 - i) * DAY));

    const all = jsonLines((await tied('ls', '--json')).stdout);
    expect(all.map((entry) => entry.id)).toEqual([...ids].reverse());
    for (const entry of all) {
      expect(Number.isInteger(entry.updatedAt)).toBe(true);
      expect(entry.size).toBeGreaterThan(0);
    }
    expect(jsonLines((await tied('ls', '--json', '--limit', '2')).stdout).map((entry) => entry.id)).toEqual([ids[3], ids[2]]);
    expect(jsonLines((await tied('ls', '--json', '--older-than', '2d12h')).stdout).map((entry) => entry.id)).toEqual([ids[1], ids[0]]);
    const plain = (await tied('ls', '--limit', '1')).stdout;
    expect(plain).toMatch(new RegExp(`^${ids[3]}\\t\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z\\t\\d+\\n$`));

    const bad = await tied('ls', '--limit', '0');
    expect(bad).toMatchObject({ code: 2, stderr: 'tied: --limit: "0" is not a positive integer\n' });
  });

  test('stats: count, sizes, oldest and newest', async () => {
    const { directory, tied } = freshStore();
    const small = (await tied('new', '--set', 'a=1')).stdout.trim();
    const large = (await tied('new', '--set', `text="${'x'.repeat(500)}"`)).stdout.trim();
    age(directory, small, DAY);
    const stats = JSON.parse((await tied('stats', '--json')).stdout) as Record<string, any>;
    expect(stats.count).toBe(2);
    expect(stats.largest.id).toBe(large);
    expect(stats.largest.size).toBeGreaterThan(500);
    expect(stats.totalBytes).toBeGreaterThan(stats.largest.size);
    expect(stats.oldest.id).toBe(small);
    expect(stats.newest.id).toBe(large);
    const text = (await tied('stats')).stdout;
    expect(text).toMatch(/^sessions +2\ntotal size +\d+ bytes\nlargest +\d+ bytes \(/);
  });

  test('purge: --dry-run counts and changes nothing; then removes exactly the old sessions and their lock files', async () => {
    const { directory, tied } = freshStore();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await tied('new', '--set', `i=${i}`)).stdout.trim());
    for (const id of ids.slice(0, 3)) age(directory, id, 40 * DAY);
    const before = readdirSync(directory).sort();

    const dry = await tied('purge', '--older-than', '30d', '--dry-run');
    expect(dry).toMatchObject({ code: 0, stdout: 'dry run: 3 sessions not saved for 4w2d would be purged\n', stderr: '' });
    expect(readdirSync(directory).sort()).toEqual(before);
    expect(JSON.parse((await tied('purge', '--older-than', '30d', '--dry-run', '--json')).stdout)).toEqual({ purged: 3, skipped: 0, interrupted: false, dryRun: true, olderThan: 30 * DAY });

    const purged = await tied('purge', '--older-than', '30d', '--batch-size', '2');
    expect(purged).toMatchObject({ code: 0, stdout: 'purged 3 sessions not saved for 4w2d\n', stderr: '' });
    const left = readdirSync(directory);
    for (const id of ids.slice(0, 3)) {
      expect(left).not.toContain(id);
      expect(left).not.toContain(`Apache-Session-${id}.lock`);
    }
    for (const id of ids.slice(3)) expect(left).toContain(id);
    expect(JSON.parse((await tied('purge', '--older-than', '30d', '--json')).stdout)).toMatchObject({ purged: 0 });
  });

  test('clean-locks: --dry-run counts, then old unheld lock files go and the rest stay', async () => {
    const { directory, url, tied } = freshStore();
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await tied('new')).stdout.trim());
    // Every open left a lock file beside the session (Perl's layout); two of them are made old.
    for (const id of ids.slice(0, 2)) age(directory, `Apache-Session-${id}.lock`, 2 * 3_600_000);
    const dry = await tied('clean-locks', '--older-than', '1h', '--dry-run');
    expect(dry).toMatchObject({ code: 0, stdout: 'dry run: up to 2 lock files not used for 1h would be removed (those still held are kept)\n' });
    expect(readdirSync(directory).filter((name) => name.endsWith('.lock'))).toHaveLength(3);
    expect(JSON.parse((await tied('clean-locks', '--older-than', '1h', '--json')).stdout)).toEqual({ removed: 2, dryRun: false, olderThan: 3_600_000 });
    expect(readdirSync(directory).filter((name) => name.endsWith('.lock'))).toEqual([`Apache-Session-${ids[2]}.lock`]);

    // A lock held by another process stays, however old its file looks.
    const holder = spawn(process.execPath, [new URL('./fixtures/hold.mjs', import.meta.url).pathname, url, ids[2]!], { stdio: ['pipe', 'pipe', 'inherit'] });
    try {
      await new Promise<void>((resolve) => holder.stdout.once('data', () => resolve()));
      age(directory, `Apache-Session-${ids[2]}.lock`, 2 * 3_600_000);
      expect(JSON.parse((await tied('clean-locks', '--older-than', '1h', '--json')).stdout)).toMatchObject({ removed: 0 });
      expect(readdirSync(directory).filter((name) => name.endsWith('.lock'))).toEqual([`Apache-Session-${ids[2]}.lock`]);
    } finally {
      holder.stdin.end();
      await new Promise((resolve) => holder.on('close', resolve));
    }
  });

  test('export → import into another file store keeps Dates, Maps, Sets and BigInts; --on-conflict', async () => {
    const source = freshStore();
    const target = freshStore();
    const line = (id: string, data: unknown) => JSON.stringify({ id, data: { json: data, meta: undefined } });
    // Written by import from superjson form, so the source holds real Dates and Maps.
    const rich = JSON.stringify({
      id: 'richrichrichrichrich1',
      data: { json: { when: '2026-01-02T03:04:05.678Z', tags: [['a', 1], ['b', 2]], seen: ['x'], big: '12345678901234567890' }, meta: { values: { when: ['Date'], tags: ['map'], seen: ['set'], big: ['bigint'] } } },
    });
    const imported = await runTied(['--store', source.url, 'import'], { input: `${rich}\n${line('plainplainplainplain1', { n: 1 })}\n` });
    expect(imported).toMatchObject({ code: 0, stdout: 'imported 2 sessions (0 overwritten, 0 skipped as existing)\n' });
    expect((await source.tied('show', 'richrichrichrichrich1')).stdout).toBe(
      "{\n  big: 12345678901234567890n,\n  seen: Set(1) { 'x' },\n  tags: Map(2) { 'a' => 1, 'b' => 2 },\n  when: 2026-01-02T03:04:05.678Z\n}\n",
    );

    const exported = await source.tied('export');
    expect(exported.code).toBe(0);
    expect(exported.stderr).toBe('exported 2 sessions\n');
    const lines = jsonLines(exported.stdout);
    expect(lines.map((entry) => entry.id).sort()).toEqual(['plainplainplainplain1', 'richrichrichrichrich1']);
    for (const entry of lines) expect(Number.isInteger(entry.updatedAt)).toBe(true);

    expect(await runTied(['--store', target.url, 'import'], { input: exported.stdout })).toMatchObject({ code: 0 });
    expect((await target.tied('show', 'richrichrichrichrich1')).stdout).toBe((await source.tied('show', 'richrichrichrichrich1')).stdout);

    // The id exists now: fail (default) stops with the conflict code, skip and overwrite go on.
    await target.tied('set', 'plainplainplainplain1', 'n', '99');
    const conflict = await runTied(['--store', target.url, 'import'], { input: exported.stdout });
    expect(conflict.code).toBe(10);
    expect(conflict.stderr).toMatch(/^tied: session \w{21} exists already \(--on-conflict skip or overwrite to go on\) \(after 0 sessions imported\)\n$/);
    expect(await runTied(['--store', target.url, 'import', '--on-conflict', 'skip'], { input: exported.stdout }))
      .toMatchObject({ code: 0, stdout: 'imported 0 sessions (0 overwritten, 2 skipped as existing)\n' });
    expect((await target.tied('get', 'plainplainplainplain1', 'n')).stdout).toBe('99\n');
    expect(await runTied(['--store', target.url, 'import', '--on-conflict', 'overwrite'], { input: exported.stdout }))
      .toMatchObject({ code: 0, stdout: 'imported 2 sessions (2 overwritten, 0 skipped as existing)\n' });
    expect((await target.tied('get', 'plainplainplainplain1', 'n')).stdout).toBe('1\n');
    expect((await runTied(['--store', target.url, 'import', '--on-conflict', 'merge'])).code).toBe(2);
  });

  test('import refuses a bad line with its number, and an invalid id before touching the store', async () => {
    const { directory, tied } = freshStore();
    const notJson = await runTied(['--store', `file://${directory}`, 'import'], { input: '{"id":"plainplainplainplain1","data":{"json":{}}}\nnot json\n' });
    expect(notJson.code).toBe(2);
    expect(notJson.stderr).toMatch(/^tied: line 2 is not JSON: .* \(after 1 session imported\)\n$/);
    const badId = await runTied(['--store', `file://${directory}`, 'import'], { input: '{"id":"../../etc/passwd","data":{"json":{}}}\n' });
    expect(badId.code).toBe(6);
    expect(badId.stderr).toMatch(/^tied: line 1: Invalid session id for nanoid: "..\/..\/etc\/passwd"/);
    expect(jsonLines((await tied('ls', '--json')).stdout).map((entry) => entry.id)).toEqual(['plainplainplainplain1']);
  });

  test('a value the serializer cannot hold: exit 11, and nothing is stored', async () => {
    const { url, tied } = freshStore();
    const withMap = JSON.stringify({ id: 'mapmapmapmapmapmapmap', data: { json: { prefs: [['theme', 'dark']] }, meta: { values: { prefs: ['map'] } } } });
    const result = await runTied(['--store', url, '--serializer', 'json', 'import'], { input: withMap + '\n' });
    expect(result.code).toBe(11);
    expect(result.stderr).toMatch(/^tied: line 1: .*json.* \(after 0 sessions imported\)\n$/i);
    expect((await tied('ls')).stdout).toBe('');
  });

  test('a corrupt session: show says so (exit 7), rm still removes it', async () => {
    const { directory, tied } = freshStore();
    const id = (await tied('new')).stdout.trim();
    writeFileSync(join(directory, id), 'not superjson');
    const shown = await tied('show', id);
    expect(shown.code).toBe(7);
    expect(shown.stderr).toBe(`tied: Session ${id} is corrupt: Stored session is not superjson data: Unexpected token 'o', "not superjson" is not valid JSON\n`);
    const exported = await tied('export');
    expect(exported.code).toBe(7);
    expect(exported.stderr).toContain(`1 session could not be read by the superjson serializer and were not exported: ${id}`);
    expect((await tied('rm', id)).code).toBe(0);
  });
});

describe('tied: arguments, help and errors', () => {
  test('--help on the command and every subcommand, --version, secret', async () => {
    const help = await runTied(['--help']);
    expect(help.code).toBe(0);
    const subcommands = ['ls', 'show', 'get', 'set', 'unset', 'new', 'rm', 'stats', 'purge', 'clean-locks', 'export', 'import', 'secret'];
    for (const name of subcommands) expect(help.stdout).toMatch(new RegExp(`^  ${name}\\b`, 'm'));
    for (const name of subcommands) {
      const sub = await runTied([name, '--help']);
      expect(sub.code).toBe(0);
      expect(sub.stdout).toMatch(new RegExp(`^Usage: tied ${name}`));
    }
    expect(await runTied(['--version'])).toMatchObject({ code: 0, stdout: '0.1.0\n' });
    const secrets = await Promise.all([runTied(['secret']), runTied(['secret'])]);
    for (const secret of secrets) expect(secret.stdout).toMatch(/^[A-Za-z0-9_-]{43}\n$/);
    // Long enough for @tied/http, which refuses shorter secrets.
    expect(secrets[0]!.stdout.trim().length).toBeGreaterThanOrEqual(MIN_SECRET_LENGTH);
    expect(secrets[0]!.stdout).not.toBe(secrets[1]!.stdout);
  });

  test('usage errors exit 2: unknown subcommand or option, missing argument, bad duration', async () => {
    expect((await runTied(['frobnicate'])).code).toBe(2);
    expect((await runTied(['ls', '--frob'])).code).toBe(2);
    expect((await runTied(['show'])).code).toBe(2);
    const noStore = await runTied(['ls']);
    expect(noStore).toMatchObject({ code: 2, stderr: 'tied: No store: give --store URL or set TIED_STORE (file:///path, mysql://…, postgres://…, redis://…)\n' });
    const badDuration = await runTied(['--store', `file://${root}/d`, 'purge', '--older-than', '30days']);
    expect(badDuration).toMatchObject({ code: 2, stderr: 'tied: --older-than: "30days" is not a duration; use 45s, 90m, 12h, 30d, 1w, 500ms, or combinations such as 1h30m\n' });
    expect((await runTied(['--store', `file://${root}/d`, 'purge'])).code).toBe(2);
    const badPart = await runTied(['--store', `file://${root}/d`, '--serializer', 'yaml', 'ls']);
    expect(badPart).toMatchObject({ code: 2, stderr: 'tied: No serializer named "yaml"; use one of superjson, json, storable, base64\n' });
  });

  test('TIED_STORE names the store; an unknown scheme exits 3', async () => {
    const directory = join(root, 'from-env');
    const id = (await runTied(['new', '--set', 'a=1'], { env: { TIED_STORE: `file://${directory}` } })).stdout.trim();
    expect((await runTied(['get', id, 'a'], { env: { TIED_STORE: `file://${directory}` } })).stdout).toBe('1\n');
    const unknown = await runTied(['--store', 'ftp://user:hunter2@example.com/x', 'ls']);
    expect(unknown).toMatchObject({ code: 3, stdout: '', stderr: 'tied: Unknown store scheme "ftp"; use file:, mysql: (or mariadb:), postgres: (or postgresql:), redis:\n' });
    expect((await runTied(['--store', 'not a url hunter2', 'ls'])).stderr).not.toContain('hunter2');
  });

  test('an invalid id is refused before the store is touched (exit 6)', async () => {
    const directory = join(root, 'never-made');
    for (const args of [['show', '../etc'], ['rm', 'aaaaaaaaaaaaaaaaaaaaa', '../etc'], ['set', 'x y', 'a', '1']]) {
      const result = await runTied(['--store', `file://${directory}`, ...args]);
      expect(result.code).toBe(6);
      expect(result.stderr).toMatch(/^tied: Invalid session id for nanoid: /);
    }
    expect(() => readdirSync(directory)).toThrow(/ENOENT/);
  });

  test('a session locked by another process: lock timeout (exit 8)', async () => {
    const { url, tied } = freshStore();
    const id = (await tied('new')).stdout.trim();
    const holder = spawn(process.execPath, [new URL('./fixtures/hold.mjs', import.meta.url).pathname, url, id], { stdio: ['pipe', 'pipe', 'inherit'] });
    try {
      await new Promise<void>((resolve) => holder.stdout.once('data', () => resolve()));
      const result = await tied('--lock-timeout', '300ms', 'set', id, 'a', '1');
      expect(result).toMatchObject({ code: 8, stderr: `tied: Timed out after 300 ms waiting for the lock of session ${id}\n` });
      // show's shared lock waits for the write lock too.
      expect((await tied('--lock-timeout', '300ms', 'show', id)).code).toBe(8);
      // Waiting without a timeout: SIGINT ends the wait (exit 130).
      const interrupted = await runTied(['--store', url, '--lock-timeout', '1h', 'set', id, 'a', '1'], {
        started: (child) => { setTimeout(() => child.kill('SIGINT'), 3_000); },
      });
      expect(interrupted).toMatchObject({ code: 130, stdout: '', stderr: 'tied: stopped by SIGINT\n' });
    } finally {
      holder.stdin.end();
      await new Promise((resolve) => holder.on('close', resolve));
    }
    expect((await tied('set', id, 'a', '1')).code).toBe(0);
  });
});
