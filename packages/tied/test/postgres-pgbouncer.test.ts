// PostgresSession through PgBouncer in transaction pooling mode (issue 11): a server connection is
// lent to a client for one transaction at a time, so a lock must live in a transaction that stays
// open from open to release. The test starts its own pgbouncer on a spare loopback port.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect } from '@jest/globals';
import pg from 'pg';
import { lockerSuite, serviceUnavailable, storeSuite, testOrSkip } from '@tied/conformance/jest';
import { postgresLeaseLocker, postgresLocker, postgresStore } from '@tied/stores/postgres';
import { PostgresSession, tied } from 'tied';
import { incrementInChildren } from './helpers/sql-children.js';

const POSTGRES = { host: '127.0.0.1', port: 5432, user: 'postgres', database: 'test' };
const TABLE = 'sql_pgbouncer_sessions';
const CONFORMANCE = 'sql_pgbouncer_conformance';
const DROP_TABLES = [TABLE, CONFORMANCE].flatMap((table) => [`DROP TABLE IF EXISTS ${table}`, `DROP TABLE IF EXISTS ${table}_leases`]).join('; ');

const pgbouncer = await promisify(execFile)('sh', ['-c', 'command -v pgbouncer']).then(({ stdout }) => stdout.trim(), () => '');
const admin = new pg.Pool({ ...POSTGRES, max: 2 });
const skip = (await serviceUnavailable('PostgreSQL at 127.0.0.1:5432', () => admin.query('SELECT 1')))
  ?? (await serviceUnavailable('pgbouncer (Debian package pgbouncer)', async () => {
    if (!pgbouncer) throw new Error('pgbouncer is not on the PATH');
  }));
const it = testOrSkip(skip);

/** A loopback port nobody listens on (now). */
async function sparePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

let directory = '';
let bouncer: ChildProcess | undefined;
const port = await sparePort();
const connectionString = () => `postgres://postgres@127.0.0.1:${port}/test`;
// Connects at first use, once pgbouncer runs (the suites make their parts when they are defined).
const pool = new pg.Pool({ connectionString: connectionString(), max: 8 });
pool.on('error', () => {});

if (skip === undefined) {
  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), 'sql-pgbouncer-'));
    await writeFile(join(directory, 'userlist.txt'), '"postgres" ""\n');
    await writeFile(join(directory, 'pgbouncer.ini'), [
      '[databases]',
      `test = host=${POSTGRES.host} port=${POSTGRES.port} dbname=test user=postgres`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      'unix_socket_dir =',
      'auth_type = trust',
      `auth_file = ${join(directory, 'userlist.txt')}`,
      'pool_mode = transaction',
      // Fewer server connections than clients: they are lent from transaction to transaction.
      'default_pool_size = 6',
      'max_client_conn = 200',
      `logfile = ${join(directory, 'pgbouncer.log')}`,
      `pidfile = ${join(directory, 'pgbouncer.pid')}`,
      '',
    ].join('\n'));
    // pgbouncer refuses to run as root: it then runs as nobody, who must read and write the directory.
    const asRoot = process.getuid?.() === 0;
    if (asRoot) await chmod(directory, 0o777);
    bouncer = spawn(pgbouncer, [...(asRoot ? ['-u', 'nobody'] : []), join(directory, 'pgbouncer.ini')], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    bouncer.stderr!.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    for (let started = Date.now(); ; await sleep(50)) {
      const probe = new pg.Client({ connectionString: connectionString() });
      probe.on('error', () => {});
      try {
        await probe.connect();
        await probe.query('SELECT 1');
        await probe.end();
        break;
      } catch (error) {
        await probe.end().catch(() => {});
        if (bouncer.exitCode !== null || Date.now() - started > 10_000) throw new Error(`pgbouncer did not start: ${(error as Error).message} ${stderr}`);
      }
    }
    await admin.query(DROP_TABLES);
    await postgresStore({ pool: admin, table: TABLE }).createTable();
    await postgresStore({ pool: admin, table: CONFORMANCE }).createTable();
    await postgresLeaseLocker({ pool: admin, table: `${TABLE}_leases` }).createTable();
    await postgresLeaseLocker({ pool: admin, table: `${CONFORMANCE}_leases` }).createTable();
  });
}

afterAll(async () => {
  await pool.end();
  if (skip === undefined) {
    if (bouncer && bouncer.exitCode === null) {
      const exited = once(bouncer, 'exit');
      bouncer.kill('SIGINT');
      await exited;
    }
    await admin.query(DROP_TABLES);
    if (directory) await rm(directory, { recursive: true, force: true });
  }
  await admin.end();
});

storeSuite({ name: 'postgresStore through PgBouncer (transaction pooling)', skip, factory: () => postgresStore({ pool, table: CONFORMANCE }) });
lockerSuite({
  name: 'postgresLocker through PgBouncer (transaction pooling), fused with its store',
  skip,
  factory: () => postgresLocker({ pool }),
  store: () => postgresStore({ pool, table: CONFORMANCE }),
});

lockerSuite({
  name: 'postgresLeaseLocker through PgBouncer (transaction pooling), fused with its store',
  skip,
  factory: () => postgresLeaseLocker({ pool, table: `${CONFORMANCE}_leases` }),
  store: () => postgresStore({ pool, table: CONFORMANCE }),
});

describe('PostgresSession through PgBouncer (transaction pooling)', () => {
  it('4 processes × 250 increments of one session end at exactly 1000', async () => {
    const session = await PostgresSession.open<{ count: number }>(undefined, { connectionString: connectionString(), table: TABLE });
    session.count = 0;
    const id = tied(session).id;
    await tied(session).release();
    await incrementInChildren('postgres', TABLE, id, 4, 250, connectionString());
    const { rows } = await admin.query(`SELECT convert_from(a_session, 'UTF8') AS text FROM ${TABLE} WHERE id = $1`, [id]);
    expect(JSON.parse(rows[0].text).json.count).toBe(1000);
    await (await PostgresSession.flavor({ connectionString: connectionString(), table: TABLE })).close();
  });

  it('a session held by one client excludes the others while the server connections are lent from transaction to transaction', async () => {
    const args = { pool, table: TABLE };
    const holder = await PostgresSession.open<{ n: number }>(undefined, args);
    const id = tied(holder).id;
    // Many short transactions of other clients meanwhile: none may be handed the holder's lock.
    await Promise.all(Array.from({ length: 20 }, () => pool.query('SELECT 1')));
    await expect(PostgresSession.open(id, { ...args, lockTimeout: 300 })).rejects.toMatchObject({ code: 'ERR_LOCK_TIMEOUT' });
    holder.n = 1;
    await tied(holder).release();
    const again = await PostgresSession.open<{ n: number }>(id, { ...args, lockTimeout: 5000 });
    expect(again.n).toBe(1);
    await tied(again).release();
  });

  it("with lock: 'PostgresLease', 4 processes × 250 increments of one session end at exactly 1000", async () => {
    const args = { connectionString: connectionString(), table: TABLE, lock: 'PostgresLease' as const };
    const session = await PostgresSession.open<{ count: number }>(undefined, args);
    session.count = 0;
    const id = tied(session).id;
    await tied(session).release();
    await incrementInChildren('postgres', TABLE, id, 4, 250, connectionString(), 10_000);
    const { rows } = await admin.query(`SELECT convert_from(a_session, 'UTF8') AS text FROM ${TABLE} WHERE id = $1`, [id]);
    expect(JSON.parse(rows[0].text).json.count).toBe(1000);
    await (await PostgresSession.flavor(args)).close();
  });

  it("with lock: 'PostgresLease', a held session pins no server connection: 16 sessions held at once over 6 server connections all save and release", async () => {
    const args = { pool, table: TABLE, lock: 'PostgresLease' as const };
    const wide = new pg.Pool({ connectionString: connectionString(), max: 20 });
    wide.on('error', () => {});
    try {
      const held = await Promise.all(Array.from({ length: 16 }, () => PostgresSession.open<{ n: number }>(undefined, { ...args, pool: wide })));
      for (const session of held) session.n = 1;
      await Promise.all(held.map((session) => tied(session).save()));
      const ids = held.map((session) => tied(session).id);
      // Still held: none of them can be opened by another locker meanwhile.
      await expect(PostgresSession.open(ids[0]!, { ...args, lockTimeout: 200 })).rejects.toMatchObject({ code: 'ERR_LOCK_TIMEOUT' });
      await Promise.all(held.map((session) => tied(session).release()));
      const { rows } = await admin.query(`SELECT count(*)::int AS saved FROM ${TABLE} WHERE id = ANY($1)`, [ids]);
      expect(rows[0].saved).toBe(16);
      await PostgresSession.close({ pool: wide });
    } finally {
      await wide.end();
    }
  });
});
