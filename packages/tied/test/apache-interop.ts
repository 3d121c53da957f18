/**
 * The live interop tests every tied/apache flavor runs against real Perl Apache::Session 1.94: Perl
 * scripts under ./perl, Node child processes under ./fixtures, one shared list of checks.
 */
import { execFile, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, test } from '@jest/globals';
import { serviceUnavailable, testOrSkip } from '@tied/conformance/jest';
import { LockTimeoutError, tied, touch, type OpenOptions, type Session } from 'tied';
import { bless, blessed } from '@tied/serializers/storable';

const run = promisify(execFile);
const perlDirectory = fileURLToPath(new URL('./perl/', import.meta.url));
const fixturesDirectory = fileURLToPath(new URL('./fixtures/', import.meta.url));

/** How both Perl's scripts and the Node fixture reach one backend (see perl/common.pl). */
export type InteropConfig =
  | { backend: 'File'; directory: string; lockDirectory: string; transaction?: 1 }
  | { backend: 'MySQL'; table: string }
  | { backend: 'Postgres'; table: string };

export interface InteropBackend {
  config: InteropConfig;
  /** Opens with the tied/apache flavor under test. */
  open(id?: string, options?: OpenOptions): Promise<Session>;
  /** Whether the Perl process `pid` is blocked waiting for the lock of session `id`, as the backend reports it. */
  perlIsWaiting(pid: number, id: string): Promise<boolean>;
}

/** A skip reason when Perl, Apache::Session or the DBI driver this backend needs is missing. */
export function perlUnavailable(modules: string[]): Promise<string | undefined> {
  return serviceUnavailable(`Perl ${modules.join(' + ')}`, async () => {
    try {
      await run('perl', [...modules.map((m) => `-M${m}`), '-e1']);
    } catch (error) {
      // Perl's first complaint, without the @INC listing: "Can't locate Apache/Session/File.pm in @INC".
      const complaint = (error as { stderr?: string }).stderr?.split('\n')[0]?.replace(/ \(@INC contains.*$/, '');
      throw new Error(complaint || (error as Error).message);
    }
  });
}

/** Runs a Perl script to its end and returns its output, trimmed. */
export async function runPerl(script: string, config: InteropConfig, ...args: string[]): Promise<string> {
  const { stdout } = await run('perl', [perlDirectory + script, JSON.stringify(config), ...args], { timeout: 30_000 });
  return stdout.trim();
}

/** What Perl sees in a session, as perl/read.pl dumps it: typed JSON, blessed objects as {$bless, $value}. */
export async function perlRead(config: InteropConfig, id: string): Promise<Record<string, unknown>> {
  return JSON.parse(await runPerl('read.pl', config, id)) as Record<string, unknown>;
}

/** A child process that talks in lines: wait for one, send one, wait for the end. */
class LineChild {
  private readonly lines: string[] = [];
  private readonly waiters: (() => void)[] = [];
  private stderr = '';
  readonly exited: Promise<number | null>;

  constructor(readonly process: ChildProcessWithoutNullStreams) {
    createInterface({ input: process.stdout }).on('line', (line) => {
      this.lines.push(line);
      this.waiters.splice(0).forEach((wake) => wake());
    });
    process.stderr.on('data', (chunk: Buffer) => { this.stderr += chunk.toString(); });
    this.exited = new Promise((resolve, reject) => {
      process.on('error', reject);
      process.on('close', (code) => {
        this.waiters.splice(0).forEach((wake) => wake());
        resolve(code);
      });
    });
  }

  get pid(): number {
    return this.process.pid!;
  }

  /** The next line printed; fails (with the child's stderr) if it ends first. */
  async line(): Promise<string> {
    while (this.lines.length === 0) {
      if (this.process.exitCode !== null) throw new Error(`child exited with ${this.process.exitCode} before printing a line: ${this.stderr}`);
      await new Promise<void>((wake) => this.waiters.push(wake));
    }
    return this.lines.shift()!;
  }

  send(line: string): void {
    this.process.stdin.write(line + '\n');
  }

  /** Waits for a successful exit and returns everything printed that was not read yet. */
  async output(): Promise<string> {
    const code = await this.exited;
    if (code !== 0) throw new Error(`child exited with ${code}: ${this.stderr}`);
    return this.lines.splice(0).join('\n');
  }
}

export function startPerl(script: string, config: InteropConfig, ...args: string[]): LineChild {
  return new LineChild(spawn('perl', [perlDirectory + script, JSON.stringify(config), ...args]));
}

/** Starts fixtures/apache-increment.mjs, which imports the built tied/apache. */
function startNodeIncrements(config: InteropConfig, id: string, times: number): LineChild {
  return new LineChild(spawn(process.execPath, [fixturesDirectory + 'apache-increment.mjs', JSON.stringify(config), id, String(times)]));
}

/** Polls `condition` until it holds; fails after `ms`. */
async function eventually(condition: () => Promise<boolean>, what: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await sleep(20);
  }
}

/** The session perl/create.pl makes, as tied reads it (docs/perl-storable-mapping.md). */
function expectedFromPerl(id: string): Record<string, unknown> {
  return {
    _session_id: id,
    user: { name: 'Ann', roles: ['admin', 'editor'], address: { city: 'Zürich', zip: '8001' } },
    unicode: { 'clé': 'café', '日本': '東京', emoji: '\u{1F600}' },
    // nfreeze writes integers outside 32 bits as decimal strings, and doubles as 15-digit strings.
    integers: {
      small: 42, negative: -7, int32: 2147483647, int32_negative: -2147483648,
      int33: '4294967296', int64: '9007199254740993', int64_negative: '-9223372036854775808',
    },
    floats: { pi: '3.14159', tenth: '0.1', huge: '1e+300', negative: '-2.5' },
    nothing: null,
    empty: {},
    object: { name: 'Ann', level: 3 },
    list: [1, 'two', '3.5', null, [4, 5], { six: 6 }],
    visits: 1,
  };
}

/** Declares the interop tests of one flavor; `skip` (a reason) skips them visibly. */
export function interopTests(flavorName: string, skip: string | undefined, backend: () => InteropBackend): void {
  const it = testOrSkip(skip);

  describe(`tied/apache ${flavorName} ⇄ Perl Apache::Session::${flavorName}`, () => {
    it('Perl creates a session; tied reads every value as documented', async () => {
      const { config, open } = backend();
      const id = await runPerl('create.pl', config);
      expect(id).toMatch(/^[0-9a-f]{32}$/);
      await using session = await open(id, { readonly: true });
      expect({ ...session }).toEqual(expectedFromPerl(id));
      expect(blessed(session.object)).toBe('My::User');
      expect(blessed(session.user)).toBeUndefined();
    });

    it('tied changes top-level values; Perl re-ties it and sees exactly that change', async () => {
      const { config, open } = backend();
      const id = await runPerl('create.pl', config);
      const before = await perlRead(config, id);
      {
        await using session = await open(id);
        session.visits = 2;
        session.greeting = 'Grüß dich, 世界';
        delete session.nothing;
      }
      const { nothing, ...kept } = before;
      expect(nothing).toBeNull();
      expect(await perlRead(config, id)).toEqual({ ...kept, visits: 2, greeting: 'Grüß dich, 世界' });
    });

    it('tied changes nested values and touches the session; Perl sees the nested change', async () => {
      const { config, open } = backend();
      const id = await runPerl('create.pl', config);
      const before = await perlRead(config, id);
      let timestamp: unknown;
      {
        await using session = await open(id);
        session.user.address.city = 'Genève';
        session.list[4].push(6);
        touch(session);
        timestamp = session._session_timestamp;
      }
      const user = before.user as { address: object };
      const list = [...(before.list as unknown[])];
      list[4] = [4, 5, 6];
      expect(await perlRead(config, id)).toEqual({
        ...before,
        user: { ...user, address: { ...user.address, city: 'Genève' } },
        list,
        // Date.now() does not fit 32 bits, so nfreeze writes it as a decimal string, as Perl does.
        _session_timestamp: String(timestamp),
      });
    });

    it('tied creates a session; Perl reads it', async () => {
      const { config, open } = backend();
      let id: string;
      {
        await using session = await open();
        id = session._session_id;
        session.user = { name: 'Bob', tags: ['a', 'b'] };
        session.unicode = { 'ключ': 'значение', 'café': 'crème', emoji: '\u{1F389}' };
        session.integers = { small: 5, int32: -100000, int40: 2 ** 40 };
        session.floats = { half: 0.5, third: 1 / 3 };
        session.flag = true;
        session.nothing = null;
        session.empty = {};
        session.object = bless({ name: 'Bob' }, 'My::User');
      }
      expect(id).toMatch(/^[0-9a-f]{32}$/);
      expect(await perlRead(config, id)).toEqual({
        _session_id: id,
        user: { name: 'Bob', tags: ['a', 'b'] },
        unicode: { 'ключ': 'значение', 'café': 'crème', emoji: '\u{1F389}' },
        integers: { small: 5, int32: -100000, int40: '1099511627776' },
        floats: { half: '0.5', third: '0.333333333333333' },
        flag: 1,
        nothing: null,
        empty: {},
        object: { $bless: 'My::User', $value: { name: 'Bob' } },
      });
    });

    it('while Perl holds the session, tied waits (LockTimeoutError on a short timeout) and opens once Perl unties', async () => {
      const { config, open } = backend();
      const id = await runPerl('create.pl', config);
      const perl = startPerl('hold.pl', config, id);
      try {
        expect(await perl.line()).toBe('held');
        await expect(open(id, { lockTimeout: 300 })).rejects.toBeInstanceOf(LockTimeoutError);
        const waiting = open(id, { lockTimeout: 30_000 });
        perl.send('release');
        await using session = await waiting;
        // Perl's write at untie happened before tied could read.
        expect(session.held_by).toBe('perl');
        expect(await perl.output()).toBe('released');
      } finally {
        perl.process.kill();
      }
    });

    it('while tied holds the session, Perl waits, then reads what tied saved', async () => {
      const { config, open, perlIsWaiting } = backend();
      const id = await runPerl('create.pl', config);
      const session = await open(id);
      session.count = 41;
      const perl = startPerl('increment.pl', config, id, '1');
      try {
        await eventually(() => perlIsWaiting(perl.pid, id), 'Perl waits for the lock');
        await tied(session)!.release();
        expect(await perl.output()).toBe('42');
      } finally {
        perl.process.kill();
        await tied(session)!.release();
      }
      await using after = await open(id, { readonly: true });
      expect(after.count).toBe(42);
    });

    it('2 Perl + 2 Node processes × 250 increments of one session end at exactly 1000', async () => {
      const { config, open } = backend();
      // Perl's File sessions need Transaction => 1 for this; the database flavors lock as they are.
      const shared: InteropConfig = config.backend === 'File' ? { ...config, transaction: 1 } : config;
      let id: string;
      {
        await using session = await open();
        session.count = 0;
        id = session._session_id;
      }
      const children = [
        startPerl('increment.pl', shared, id, '250'), startNodeIncrements(shared, id, 250),
        startPerl('increment.pl', shared, id, '250'), startNodeIncrements(shared, id, 250),
      ];
      try {
        await Promise.all(children.map((child) => child.output()));
      } finally {
        children.forEach((child) => child.process.kill());
      }
      {
        await using after = await open(id, { readonly: true });
        expect(after.count).toBe(1000);
      }
      // Released first: Perl's MySQL and Postgres read under an exclusive lock.
      expect(await perlRead(config, id)).toMatchObject({ count: 1000 });
    }, 180_000);
  });
}
