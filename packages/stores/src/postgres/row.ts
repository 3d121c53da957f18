/**
 * Perl's Apache::Session::Postgres with `Commit => 1`: Store::Postgres reads a session with
 * `SELECT … FOR UPDATE` in a transaction that stays open until the session is untied, and writes it
 * in that transaction. Here that is a store and a locker made together: the locker's lock is the row
 * lock of a transaction held on a pooled client, and the store writes a locked session in it. Perl
 * and Node processes then exclude each other.
 *
 *   lock + read:     BEGIN …; SET LOCAL lock_timeout = …; SELECT 1 FROM <table> WHERE id = … FOR UPDATE (FOR SHARE to read); SELECT a_session …
 *   lock + insert:   the same, then INSERT: the new row stays uncommitted, and so locked, as in Perl
 *   save:            UPDATE …                     (in the transaction, as Perl's save: committed at release)
 *   write + release: UPDATE …; COMMIT
 *
 * A row lock locks a row: an id without a row excludes no one until its insert.
 */
import type { LockMode, Locker } from '@tied/core';
import type { HoldStatements } from '../sql/held.js';
import { heldLocker } from '../sql/locker.js';
import { BEGIN, postgresPool, postgresText } from './connection.js';
import { postgresDialect } from './dialect.js';
import { postgresStoreWith, type PostgresStore, type PostgresStoreOptions } from './store.js';

export interface PostgresRowPartsOptions extends PostgresStoreOptions {}

export interface PostgresRowParts {
  readonly store: PostgresStore;
  readonly locker: Locker;
}

const rowLockers = new WeakMap<Locker, object>();

/** Perl's Store::Postgres with `Commit => 1`: a store and its row locker, on one pool and one table. */
export function postgresRowParts(options: PostgresRowPartsOptions): PostgresRowParts {
  const table = postgresDialect.parseTable(options.table ?? 'sessions');
  const hold = (id: string, mode: LockMode): HoldStatements => ({
    take: (waitMs) => ({
      statements: [
        BEGIN,
        // lock_timeout 0 is no limit; a wait of 0 ms still waits 1 ms.
        `SET LOCAL lock_timeout = ${waitMs === undefined ? 0 : Math.max(1, Math.ceil(waitMs))}`,
        `SELECT 1 FROM ${table.quoted} WHERE id = ${postgresText(id)} FOR ${mode === 'read' ? 'SHARE' : 'UPDATE'}`,
      ],
    }),
    keep: [],
    release: ['COMMIT'],
    abandon: ['ROLLBACK'],
    // A failed statement aborts the transaction, and its row lock with it.
    recover: undefined,
  });
  const { pool, driver, close } = postgresPool(options, 'postgresRowParts');
  const locker = heldLocker('postgres-row', true, driver, hold, close);
  rowLockers.set(locker, pool);
  const store = postgresStoreWith({ ...options, table: table.given }, 'postgresRowParts', hold, (storePool) => (other) => other === locker && rowLockers.get(other) === storePool);
  return { store, locker };
}
