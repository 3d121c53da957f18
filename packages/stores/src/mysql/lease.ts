/**
 * MySQL's lease locks (see ../sql/lease.ts): a row of an InnoDB lease table per held lock, expiring on
 * the server's UTC clock (`UTC_TIMESTAMP(6)`: no time zone or DST setting moves it). Each round trip
 * runs on a pooled connection in autocommit, a round trip of two writes in one transaction (one
 * commit, one redo log flush):
 *   take + read:     INSERT … ON DUPLICATE KEY UPDATE (the lease, if free, expired or ours); SELECT the lease and the session joined
 *   write + release: START TRANSACTION; UPDATE sessions JOIN leases … (the write, only where the lease row is ours; both
 *                    rows locked); DELETE the lease; COMMIT
 *   remove:          DELETE sessions, leases … LEFT JOIN (both rows, only where the lease is ours)
 * The read is a statement of its own, after the lease is taken, so it sees the last holder's write
 * (committed before that holder deleted its lease).
 */
import type { FencedSql, WriteOutcome } from '../sql/lease-access.js';
import { leaseKey, leaseLocker, type LeaseOptions, type LeaseSql, type SqlLeaseLocker } from '../sql/lease.js';
import type { Layout, TableName, TableStatements } from '../sql/table.js';
import { mysqlCount, mysqlPool, mysqlRows, mysqlText, type MySQLConnectionOptions } from './connection.js';
import { mysqlDialect } from './dialect.js';

const ER_NO_SUCH_TABLE = 1146;

const key = (id: string): string => mysqlText(leaseKey(id));
// Tokens are base64url: plain characters.
const tokenSql = (token: string): string => `'${token}'`;
const until = (leaseMs: number): string => `UTC_TIMESTAMP(6) + INTERVAL ${leaseMs * 1000} MICROSECOND`;
const heldIn = (result: unknown): boolean => Number(mysqlRows(result)[0]?.held) === 1;

/** The statements of the lease table `table` (`name` or `database.name`). */
export function mysqlLeaseSql(table: string): LeaseSql {
  const parsed = mysqlDialect.parseTable(table);
  const leases = parsed.quoted;
  const among = (items: readonly { id: string; token: string }[]) =>
    `id IN (${items.map((item) => key(item.id)).join(', ')}) AND token IN (${items.map((item) => tokenSql(item.token)).join(', ')})`;
  return {
    table,
    quoted: leases,
    createTable: [
      `CREATE TABLE IF NOT EXISTS ${leases} (
         id varbinary(255) NOT NULL PRIMARY KEY,
         token char(22) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
         expires_at datetime(6) NOT NULL
       ) ENGINE=InnoDB`,
    ],
    // MySQL assigns left to right: once token is set, the second IF sees whether it is ours.
    take: (id, token, leaseMs) =>
      `INSERT INTO ${leases} (id, token, expires_at) VALUES (${key(id)}, ${tokenSql(token)}, ${until(leaseMs)})
       ON DUPLICATE KEY UPDATE token = IF(expires_at <= UTC_TIMESTAMP(6) OR token = VALUES(token), VALUES(token), token),
         expires_at = IF(token = VALUES(token), VALUES(expires_at), expires_at)`,
    held: (id, token) => `SELECT token = ${tokenSql(token)} AS held FROM ${leases} WHERE id = ${key(id)}`,
    release: (id, token) => `DELETE FROM ${leases} WHERE id = ${key(id)} AND token = ${tokenSql(token)}`,
    // Tokens are unique to a lock, so `id IN … AND token IN …` matches exactly the leases given.
    renew: (items, leaseMs) => [`UPDATE ${leases} SET expires_at = ${until(leaseMs)} WHERE ${among(items)}`, `SELECT token FROM ${leases} WHERE ${among(items)}`],
    renewed: (results) => new Set(mysqlRows(results[1]).map((row) => String(row.token))),
    clean: `DELETE FROM ${leases} WHERE expires_at < UTC_TIMESTAMP(6)`,
    isMissingTable: (error) => (error as { errno?: unknown } | null)?.errno === ER_NO_SUCH_TABLE && String((error as Error).message).includes(parsed.name),
    afterError: ['ROLLBACK'],
  };
}

/** The session table's statements fenced by the leases of `leases`. */
export function mysqlFenced(table: TableName, statements: TableStatements, leases: LeaseSql): FencedSql {
  const sessions = table.quoted;
  const text = mysqlDialect.textLiteral;
  const isLeased = (id: string, token: string) => `EXISTS (SELECT 1 FROM ${leases.quoted} WHERE id = ${key(id)} AND token = ${tokenSql(token)})`;
  /** Two writes in one transaction: one commit, one redo log flush. `at` finds a write's result among the statements'. */
  const inTransaction = (writes: readonly string[]) => ({
    statements: ['START TRANSACTION', ...writes, 'COMMIT'],
    at: (results: readonly unknown[], index: number) => results[index + 1],
  });
  // Setting the lease row too makes InnoDB lock it for the statement: no one takes the lease over mid-write.
  const fencedUpdate = (layout: Layout, id: string, value: string, token: string, leaseMs: number) =>
    `UPDATE ${sessions} AS s JOIN ${leases.quoted} AS l ON l.id = ${key(id)} AND l.token = ${tokenSql(token)}
     SET ${statements.assign(layout, value, 's.')}, l.expires_at = ${until(leaseMs)} WHERE s.id = ${text(id)}`;
  return {
    lockAndRead: (layout, id, token, leaseMs) => ({
      statements: [
        leases.take(id, token, leaseMs),
        `SELECT l.token = ${tokenSql(token)} AS held, s.id IS NOT NULL AS found, ${statements.columns(layout)}
         FROM ${leases.quoted} AS l LEFT JOIN ${sessions} AS s ON s.id = ${text(id)} AND l.token = ${tokenSql(token)} WHERE l.id = ${key(id)}`,
      ],
      read(results) {
        const row = mysqlRows(results[1])[0];
        if (!row || Number(row.held) !== 1) return undefined;
        return { row: Number(row.found) === 1 ? row : undefined };
      },
    }),
    lockAndInsert: (layout, id, value, token, leaseMs) => {
      const inserted = inTransaction([leases.take(id, token, leaseMs), statements.insert(layout, id, value, isLeased(id, token)), leases.held(id, token)]);
      return { statements: inserted.statements, read: (results) => (heldIn(inserted.at(results, 2)) ? mysqlCount(inserted.at(results, 1)) > 0 : undefined) };
    },
    write: (layout, id, value, token, leaseMs, release) => {
      const written = release
        ? inTransaction([fencedUpdate(layout, id, value, token, leaseMs), leases.release(id, token)])
        : { statements: [fencedUpdate(layout, id, value, token, leaseMs), leases.held(id, token)], at: (results: readonly unknown[], index: number) => results[index] };
      return {
        statements: written.statements,
        read(results): WriteOutcome {
          if (mysqlCount(written.at(results, 0)) > 0) return 'written';
          const held = release ? mysqlCount(written.at(results, 1)) > 0 : heldIn(written.at(results, 1));
          return held ? 'missing' : 'lost';
        },
      };
    },
    // One statement deletes both rows (and locks both): the session only where the lease is ours.
    remove: (id, token) => ({
      statements: [`DELETE s, l FROM ${leases.quoted} AS l LEFT JOIN ${sessions} AS s ON s.id = ${text(id)} WHERE l.id = ${key(id)} AND l.token = ${tokenSql(token)}`],
      read: (results) => mysqlCount(results[0]) > 0,
    }),
  };
}

export interface MySQLLeaseLockerOptions extends MySQLConnectionOptions, LeaseOptions {
  /** The lease table, `name` or `database.name`. Default: the uri's `?table=` with `_leases` after it, else `sessions_leases`. */
  table?: string;
}

export type MySQLLeaseLocker = SqlLeaseLocker;

/**
 * Lease locks in a MySQL/MariaDB table (not Perl's GET_LOCK): a held session holds no pooled
 * connection. Every lock is exclusive. A holder that stops renewing loses its lock when its lease ends,
 * and its later writes are refused (`LockLostError`, nothing written).
 */
export function mysqlLeaseLocker(options: MySQLLeaseLockerOptions): MySQLLeaseLocker {
  const sessions = (options.uri ? new URL(options.uri).searchParams.get('table') : null) ?? 'sessions';
  const sql = mysqlLeaseSql(options.table ?? `${sessions}_leases`);
  const { driver, close } = mysqlPool(options, 'mysqlLeaseLocker');
  return leaseLocker({ driver, sql, rows: mysqlRows, count: mysqlCount, part: 'mysqlLeaseLocker', name: 'mysql-lease', close }, { lease: options.lease });
}
