// MySQLSession and PostgresSession tried as an adversary would (issue 11): the same tests on both servers.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect } from '@jest/globals';
import { testOrSkip } from '@tied/conformance/jest';
import { mysqlStore } from '@tied/stores/mysql';
import { postgresStore } from '@tied/stores/postgres';
import { LockLostError, PoolTimeoutError, SessionTooLargeError, tied, type Session } from 'tied';
import { incrementInChildren } from './helpers/sql-children.js';
import { counters, mysqlKit, postgresKit, type SqlKit, type TestPool } from './helpers/sql-kits.js';

const kits = [await mysqlKit(), await postgresKit()];
afterAll(() => Promise.all(kits.map((kit) => kit.end())));

const rejectionOf = (promise: Promise<unknown>): Promise<unknown> =>
  promise.then(() => { throw new Error('expected a rejection'); }, (error: unknown) => error);

/** Rejects instead of waiting forever: a stalled release is the failure these tests look for. */
const withinSeconds = <T>(seconds: number, promise: Promise<T>, what: string): Promise<T> => Promise.race([
  promise,
  new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what} stalled for ${seconds} s`)), seconds * 1000).unref()),
]);

describe.each(kits)('$backend sessions under attack', (kit: SqlKit) => {
  const it = testOrSkip(kit.skip);
  const TABLE = `sql_adv_${kit.backend}`;
  const TEXT = `sql_adv_${kit.backend}_text`;
  const VICTIM = `sql_adv_${kit.backend}_victim`;
  const TABLES = [TABLE, TEXT, VICTIM];
  let shared: TestPool;

  const open = <T extends object>(id: string | undefined, options = {}) => kit.open<T>(shared, TABLE, id, options);
  const { create: counter, read: countOf } = counters(open);

  if (kit.skip === undefined) {
    beforeAll(async () => {
      shared = kit.pool(4);
      for (const table of TABLES) await kit.admin(`DROP TABLE IF EXISTS ${table}`);
      const store = kit.backend === 'mysql' ? mysqlStore({ pool: shared.pool as never, table: TABLE }) : postgresStore({ pool: shared.pool as never, table: TABLE });
      await store.createTable();
      await kit.admin(kit.perlTextTable(TEXT, 'text'));
      await kit.admin(`CREATE TABLE ${VICTIM} (n int)`);
      await kit.admin(`INSERT INTO ${VICTIM} VALUES (1)`);
    });
    afterAll(async () => {
      for (const table of TABLES) await kit.admin(`DROP TABLE IF EXISTS ${table}`);
      await shared.end();
    });
  }

  describe('writes only under the lock (finding 1)', () => {
    it('its lock connection killed, another process takes the lock and increments: save() fails with LockLostError "nothing was written", and so does every later write', async () => {
      const id = await counter();
      const session = await open<{ count: number }>(id);
      await kit.killHolder(id);
      await incrementInChildren(kit.backend, TABLE, id, 1, 1);
      session.count = 100;
      const error = await rejectionOf(tied(session).save());
      expect(error).toBeInstanceOf(LockLostError);
      expect((error as Error).message).toMatch(/nothing was written/);
      session.count = 101;
      expect(await rejectionOf(tied(session).save())).toBeInstanceOf(LockLostError);
      expect(await rejectionOf(tied(session).release())).toBeInstanceOf(LockLostError);
      expect(await countOf(id)).toBe(1);
    });

    it('delete() after the lock was lost and taken by another process fails with LockLostError and removes nothing', async () => {
      const id = await counter();
      const session = await open<{ count: number }>(id);
      await kit.killHolder(id);
      await incrementInChildren(kit.backend, TABLE, id, 1, 1);
      const error = await rejectionOf(tied(session).delete());
      expect(error).toBeInstanceOf(LockLostError);
      expect((error as Error).message).toMatch(/nothing was written/);
      expect(await countOf(id)).toBe(1);
    });

    it('an un-awaited save() before release() still writes under the lock: 100 such cycles against 100 increments of another process end at 200', async () => {
      const id = await counter();
      const other = incrementInChildren(kit.backend, TABLE, id, 1, 100);
      for (let i = 0; i < 100; i++) {
        const session = await open<{ count: number }>(id);
        session.count += 1;
        const saving = tied(session).save();
        await tied(session).release();
        await saving;
      }
      await other;
      expect(await countOf(id)).toBe(200);
    });
  });

  describe('values never read as SQL (finding 3)', () => {
    const hostile = [
      `'); DROP TABLE ${VICTIM}; -- `,
      `\\'; DROP TABLE ${VICTIM}; UPDATE ${TEXT} SET a_session = 'pwned'; -- `,
      'C:\\new\\x41 \\\\ \\0 \\\' é 🚀 \u2028',
    ];
    const setting = kit.backend === 'mysql'
      ? "SET SESSION sql_mode = CONCAT(@@sql_mode, ',NO_BACKSLASH_ESCAPES')"
      : '-c standard_conforming_strings=off';

    for (const [name, table] of [['the recommended table (binary)', TABLE], ["Perl's table with a text column", TEXT]] as const) {
      it(`with ${kit.backend === 'mysql' ? 'NO_BACKSLASH_ESCAPES and multi-statements' : 'standard_conforming_strings=off'}, hostile data on ${name} is stored and read back exactly, and runs nothing`, async () => {
        const loose = kit.pool(2, setting);
        try {
          const created = await kit.open<{ values: string[] }>(loose, table, undefined);
          created.values = hostile;
          const id = tied(created).id;
          await tied(created).release();
          const again = await kit.open<{ values: string[] }>(loose, table, id);
          expect(again.values).toEqual(hostile);
          again.values = [...hostile].reverse();
          await tied(again).release();
          const last = await kit.open<{ values: string[] }>(loose, table, id, { readonly: true });
          expect(last.values).toEqual([...hostile].reverse());
          await tied(last).release();
          // What a connection with default settings reads is what tied serialized.
          const [row] = await kit.admin(`SELECT a_session FROM ${table} WHERE id = '${id}'`);
          const flavor = await kit.flavor(shared, table);
          const stored = flavor.parts.serializer.unserialize(row!.a_session as string) as { values: string[] };
          expect(stored.values).toEqual([...hostile].reverse());
          expect(await kit.admin(`SELECT n FROM ${VICTIM}`)).toEqual([{ n: 1 }]);
        } finally {
          await loose.end();
        }
      });
    }
  });

  describe('pools (findings 8 and 10)', () => {
    it('a held session saves and deletes on its own connection, even when it holds the only one', async () => {
      const single = kit.pool(1);
      try {
        const session = await kit.open<{ n: number }>(single, TABLE, undefined);
        session.n = 1;
        await withinSeconds(10, tied(session).save(), 'save() with the pool full');
        session.n = 2;
        await withinSeconds(10, tied(session).save(), 'a second save()');
        await withinSeconds(10, tied(session).delete(), 'delete() with the pool full');
      } finally {
        await single.end();
      }
    });

    it('as many existing sessions as the pool has connections, opened at once in a fresh process, all release (no first-burst deadlock)', async () => {
      const ids: string[] = [];
      for (let i = 0; i < 4; i++) ids.push(await counter());
      const fresh = kit.pool(4);
      try {
        const sessions = await Promise.all(ids.map((id) => kit.open<{ count: number }>(fresh, TABLE, id)));
        for (const session of sessions) session.count += 1;
        await withinSeconds(10, Promise.all(sessions.map((session) => tied(session).release())), 'releasing the first burst');
      } finally {
        await fresh.end();
      }
      for (const id of ids) expect(await countOf(id)).toBe(1);
    });

    it('an open that waits for a pool connection longer than lockTimeout fails with PoolTimeoutError, naming the pool, its size and the connections sessions hold', async () => {
      const single = kit.pool(1);
      try {
        const holder = await kit.open(single, TABLE, undefined);
        const error = await rejectionOf(kit.open(single, TABLE, tied(holder).id, { lockTimeout: 200 }));
        expect(error).toBeInstanceOf(PoolTimeoutError);
        expect(error).toMatchObject({ code: 'ERR_POOL_TIMEOUT', size: 1, heldBySessions: 1 });
        expect((error as Error).message).toMatch(/waiting for a connection of the pool .*\(1 connections, 1 held by locked sessions\)/);
        await tied(holder).release();
      } finally {
        await single.end();
      }
    });

    it('the pool ended under a held session: its release says so (MySQL), or completes before the pool ends (PostgreSQL)', async () => {
      const id = await counter();
      const own = kit.pool(2);
      const session = await kit.open<{ count: number }>(own, TABLE, id);
      session.count = 5;
      const ending = own.end();
      if (kit.backend === 'mysql') {
        await ending;
        const error = await rejectionOf(tied(session).release());
        expect(error).toBeInstanceOf(LockLostError);
        expect((error as Error).message).toMatch(/pool .* was ended \(pool\.end\(\)\) while session .* held one of its connections: its lock is gone and nothing was written/);
        expect(await countOf(id)).toBe(0);
      } else {
        await tied(session).release();
        await ending;
        expect(await countOf(id)).toBe(5);
      }
    });
  });

  it(`a payload a varchar(100) column cannot hold is refused with SessionTooLargeError${kit.backend === 'mysql' ? ' in every sql_mode' : ''}, counted in characters (finding 5)`, async () => {
    const VARCHAR = `sql_adv_${kit.backend}_varchar`;
    await kit.admin(`DROP TABLE IF EXISTS ${VARCHAR}`);
    await kit.admin(kit.perlTextTable(VARCHAR, 'varchar(100)'));
    try {
      // MySQL: a loose sql_mode truncates silently, a strict one refuses with its own error.
      for (const mode of kit.backend === 'mysql' ? ["SET SESSION sql_mode = ''", "SET SESSION sql_mode = 'STRICT_ALL_TABLES'"] : [undefined]) {
        const pool = kit.pool(2, mode);
        try {
          const created = await kit.open<{ s: string }>(pool, VARCHAR, undefined);
          // 100 characters at most: multi-byte ones fit as long as they are 100.
          created.s = 'é'.repeat(20);
          const id = tied(created).id;
          await tied(created).release();
          const session = await kit.open<{ s: string }>(pool, VARCHAR, id);
          expect(session.s).toBe('é'.repeat(20));
          session.s = 'x'.repeat(100);
          const error = await rejectionOf(tied(session).release());
          expect(error).toBeInstanceOf(SessionTooLargeError);
          expect(error).toMatchObject({ unit: 'characters', limit: 100 });
          const again = await kit.open<{ s: string }>(pool, VARCHAR, id, { lockTimeout: 2000 });
          expect(again.s).toBe('é'.repeat(20));
          await tied(again).release();
        } finally {
          await pool.end();
        }
      }
    } finally {
      await kit.admin(`DROP TABLE IF EXISTS ${VARCHAR}`);
    }
  });

  it('a hex id has one spelling: upper case is refused before any lock; short ids (Perl\'s IDLength) are made and locked as they are (finding 4)', async () => {
    const { MySQL, Postgres } = await import('tied/apache');
    // One open signature for both (their argument types differ only in the connection).
    const Apache = (kit.backend === 'mysql' ? MySQL : Postgres) as unknown as { open(id: string | undefined, args: object): Promise<Session<{ n: number }>> };
    const PERL = `sql_adv_${kit.backend}_perl`;
    await kit.admin(`DROP TABLE IF EXISTS ${PERL}`);
    try {
      const args = { pool: shared.pool as never, table: PERL, createTable: true, IDLength: 8 };
      const session = await Apache.open(undefined, args);
      const id = tied(session).id;
      expect(id).toMatch(/^[0-9a-f]{8}$/);
      session.n = 1;
      await tied(session).release();
      expect((await kit.admin(`SELECT id FROM ${PERL}`)).map((row) => String(row.id).trim())).toEqual([id]);
      expect(await rejectionOf(Apache.open(id.toUpperCase(), args))).toMatchObject({ code: 'ERR_INVALID_SESSION_ID' });
      const again = await Apache.open(id, args);
      expect(again.n).toBe(1);
      await tied(again).release();
    } finally {
      await kit.admin(`DROP TABLE IF EXISTS ${PERL}`);
    }
  });
});

describe('an administrator killing connections (finding 2): never a crash; pools tied makes let the process exit (finding 8)', () => {
  const fixture = fileURLToPath(new URL('./fixtures/sql-admin-kill.mjs', import.meta.url));
  const [mysql, postgres] = kits as [SqlKit, SqlKit];
  const variants = [
    { variant: 'mysql', kit: mysql, table: 'sql_kill_mysql', create: 'recommended' },
    { variant: 'postgres', kit: postgres, table: 'sql_kill_postgres', create: 'recommended' },
    { variant: 'apache-postgres', kit: postgres, table: 'sql_kill_apache', create: 'perl' },
  ] as const;

  for (const { variant, kit, table, create } of variants) {
    testOrSkip(kit.skip)(`${variant}: the held connection killed, release fails with LockLostError; the idle ones killed, nothing happens; then the process exits by itself`, async () => {
      await kit.admin(`DROP TABLE IF EXISTS ${table}`);
      await kit.admin(create === 'perl' ? kit.perlTextTable(table, 'text') : kit.backend === 'mysql'
        ? `CREATE TABLE ${table} (id varchar(64) primary key, a_session longblob not null, updated_at timestamp not null default current_timestamp)`
        : `CREATE TABLE ${table} (id varchar(64) primary key, a_session bytea not null, updated_at timestamptz not null default now())`);
      const applicationName = `sql_kill_${process.pid}_${variant.replace('-', '_')}`;
      const child = spawn(process.execPath, [fixture, variant, table, applicationName], { stdio: ['pipe', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
      });
      const exited = once(child, 'exit') as Promise<[number | null, string | null]>;
      const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
      const next = async (): Promise<string> => {
        const line = await Promise.race([lines.next(), exited.then(([code]) => { throw new Error(`the process exited with ${code}: ${stderr}`); })]);
        return String(line.value);
      };
      /** Terminates every backend of the child (PostgreSQL names them by application_name). */
      const terminateAll = async () => {
        await kit.admin('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [applicationName]);
        for (let started = Date.now(); Date.now() - started < 5000; await sleep(10)) {
          if ((await kit.admin('SELECT pid FROM pg_stat_activity WHERE application_name = $1', [applicationName])).length === 0) return;
        }
      };
      try {
        const [word, id] = (await next()).split(' ');
        expect(word).toBe('held');
        if (kit.backend === 'mysql') await kit.killHolder(id!);
        else await terminateAll();
        child.stdin.write('go\n');
        expect(await next()).toBe('release ERR_LOCK_LOST');
        expect(await next()).toBe('idle');
        if (kit.backend === 'postgres') await terminateAll();
        child.stdin.end('go\n');
        expect(await next()).toBe('alive');
        const timer = setTimeout(() => child.kill(), 8000);
        const [code, signal] = await exited;
        clearTimeout(timer);
        expect({ code, signal, stderr }).toEqual({ code: 0, signal: null, stderr: '' });
      } finally {
        child.kill();
        await kit.admin(`DROP TABLE IF EXISTS ${table}`);
      }
    });
  }
});
