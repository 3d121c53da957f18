/**
 * PostgreSQL's lease locks (see ../sql/lease.ts): a row of a lease table per held lock, expiring on the
 * server's clock (`clock_timestamp()`). Each round trip is one simple query (its statements one
 * implicit transaction) on a pooled client, in no transaction before or after it — so PgBouncer's
 * transaction pooling lends the server connection for that round trip only:
 *   take + read:     INSERT … ON CONFLICT DO UPDATE … WHERE expired or ours; SELECT the lease and the session joined
 *   write + release: WITH lease AS (DELETE the lease if ours), written AS (UPDATE the session WHERE EXISTS lease) …
 *   remove:          WITH lease AS (DELETE the lease if ours), removed AS (DELETE the session WHERE EXISTS lease) …
 * The read is a statement of its own, after the take: READ COMMITTED gives it a snapshot taken once
 * the lease is ours, so it sees the last holder's write (a statement's own snapshot could be older
 * than the lease it waited for). A write and its fence are one statement: the DELETE or UPDATE of the
 * lease row locks it, and a lease taken over meanwhile fails the fence's `token =` recheck.
 */
import type { FencedSql, WriteOutcome } from '../sql/lease-access.js';
import { leaseKey, leaseLocker, type LeaseOptions, type LeaseSql, type SqlLeaseLocker } from '../sql/lease.js';
import type { Layout, TableName, TableStatements } from '../sql/table.js';
import { postgresCount, postgresPool, postgresRows, postgresText, type PostgresConnectionOptions } from './connection.js';
import { postgresDialect } from './dialect.js';

const UNDEFINED_TABLE = '42P01';

const key = (id: string): string => postgresText(leaseKey(id));
// Tokens are base64url: plain characters.
const tokenSql = (token: string): string => `'${token}'`;
const until = (leaseMs: number): string => `clock_timestamp() + interval '${leaseMs} milliseconds'`;
const heldIn = (result: unknown): boolean => postgresRows(result)[0]?.held === true;

/**
 * The statements of the lease table `table` (`name` or `schema.name`). `unlogged`: an UNLOGGED table
 * (no WAL for leases; after a server crash the table is empty, every lease gone, and the fenced writes
 * of their holders are refused).
 */
export function postgresLeaseSql(table: string, unlogged: boolean): LeaseSql {
  const parsed = postgresDialect.parseTable(table);
  const leases = parsed.quoted;
  const among = (items: readonly { id: string; token: string }[]) =>
    `id IN (${items.map((item) => key(item.id)).join(', ')}) AND token IN (${items.map((item) => tokenSql(item.token)).join(', ')})`;
  return {
    table,
    quoted: leases,
    createTable: [
      `CREATE ${unlogged ? 'UNLOGGED ' : ''}TABLE IF NOT EXISTS ${leases} (
         id text COLLATE "C" NOT NULL PRIMARY KEY,
         token text NOT NULL,
         expires_at timestamptz NOT NULL
       )`,
    ],
    take: (id, token, leaseMs) =>
      `INSERT INTO ${leases} AS l (id, token, expires_at) VALUES (${key(id)}, ${tokenSql(token)}, ${until(leaseMs)})
       ON CONFLICT (id) DO UPDATE SET token = EXCLUDED.token, expires_at = EXCLUDED.expires_at
       WHERE l.expires_at <= clock_timestamp() OR l.token = EXCLUDED.token`,
    held: (id, token) => `SELECT token = ${tokenSql(token)} AS held FROM ${leases} WHERE id = ${key(id)}`,
    release: (id, token) => `DELETE FROM ${leases} WHERE id = ${key(id)} AND token = ${tokenSql(token)}`,
    // Tokens are unique to a lock, so `id IN … AND token IN …` matches exactly the leases given.
    renew: (items, leaseMs) => [`UPDATE ${leases} SET expires_at = ${until(leaseMs)} WHERE ${among(items)} RETURNING token`],
    renewed: (results) => new Set(postgresRows(results[0]).map((row) => String(row.token))),
    clean: `DELETE FROM ${leases} WHERE expires_at < clock_timestamp()`,
    isMissingTable: (error) => (error as { code?: unknown } | null)?.code === UNDEFINED_TABLE && String((error as Error).message).includes(parsed.name),
    // A simple query's statements are one implicit transaction, ended by the error.
    afterError: [],
  };
}

/** The session table's statements fenced by the leases of `leases`. */
export function postgresFenced(table: TableName, statements: TableStatements, leases: LeaseSql): FencedSql {
  const sessions = table.quoted;
  const text = postgresDialect.textLiteral;
  const mine = (id: string, token: string) => `id = ${key(id)} AND token = ${tokenSql(token)}`;
  return {
    lockAndRead: (layout, id, token, leaseMs) => ({
      statements: [
        leases.take(id, token, leaseMs),
        `SELECT l.token = ${tokenSql(token)} AS held, s.id IS NOT NULL AS found, ${statements.columns(layout)}
         FROM ${leases.quoted} AS l LEFT JOIN ${sessions} AS s ON s.id = ${text(id)} AND l.token = ${tokenSql(token)} WHERE l.id = ${key(id)}`,
      ],
      read(results) {
        const row = postgresRows(results[1])[0];
        if (row?.held !== true) return undefined;
        return { row: row.found === true ? row : undefined };
      },
    }),
    lockAndInsert: (layout, id, value, token, leaseMs) => ({
      statements: [
        leases.take(id, token, leaseMs),
        statements.insert(layout, id, value, `EXISTS (SELECT 1 FROM ${leases.quoted} WHERE ${mine(id, token)})`),
        leases.held(id, token),
      ],
      read: (results) => (heldIn(results[2]) ? postgresCount(results[1]) > 0 : undefined),
    }),
    write: (layout: Layout, id, value, token, leaseMs, release) => ({
      statements: [
        `WITH lease AS (${release ? `DELETE FROM ${leases.quoted}` : `UPDATE ${leases.quoted} SET expires_at = ${until(leaseMs)}`} WHERE ${mine(id, token)} RETURNING 1),
           written AS (UPDATE ${sessions} SET ${statements.assign(layout, value)} WHERE id = ${text(id)} AND EXISTS (SELECT 1 FROM lease) RETURNING 1)
         SELECT EXISTS (SELECT 1 FROM lease) AS held, EXISTS (SELECT 1 FROM written) AS written`,
      ],
      read(results): WriteOutcome {
        const row = postgresRows(results[0])[0];
        if (row?.written === true) return 'written';
        return row?.held === true ? 'missing' : 'lost';
      },
    }),
    remove: (id, token) => ({
      statements: [
        `WITH lease AS (DELETE FROM ${leases.quoted} WHERE ${mine(id, token)} RETURNING 1),
           removed AS (DELETE FROM ${sessions} WHERE id = ${text(id)} AND EXISTS (SELECT 1 FROM lease))
         SELECT EXISTS (SELECT 1 FROM lease) AS held`,
      ],
      read: (results) => postgresRows(results[0])[0]?.held === true,
    }),
  };
}

export interface PostgresLeaseLockerOptions extends PostgresConnectionOptions, LeaseOptions {
  /** The lease table, `name` or `schema.name`. Default: the string's `?table=` with `_leases` after it, else `sessions_leases`. */
  table?: string;
  /** `createTable()` makes an UNLOGGED table (no WAL for leases; a server crash empties it, which fencing keeps safe). Default true. */
  unlogged?: boolean;
}

export type PostgresLeaseLocker = SqlLeaseLocker;

/**
 * Lease locks in a PostgreSQL table (not advisory locks): a held session holds no pooled client and
 * no transaction, through PgBouncer too. Every lock is exclusive. A holder that stops renewing loses its
 * lock when its lease ends, and its later writes are refused (`LockLostError`, nothing written).
 */
export function postgresLeaseLocker(options: PostgresLeaseLockerOptions): PostgresLeaseLocker {
  const sessions = (options.connectionString ? new URL(options.connectionString).searchParams.get('table') : null) ?? 'sessions';
  const sql = postgresLeaseSql(options.table ?? `${sessions}_leases`, options.unlogged ?? true);
  const { driver, close } = postgresPool(options, 'postgresLeaseLocker');
  return leaseLocker({ driver, sql, rows: postgresRows, count: postgresCount, part: 'postgresLeaseLocker', name: 'postgres-lease', close }, { lease: options.lease });
}
