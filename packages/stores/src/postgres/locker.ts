import type { Locker } from '@tied/core';
import { lockWith } from '../sql/held.js';
import { advisoryHold, postgresPool, type PostgresConnectionOptions } from './connection.js';

export type PostgresLockerOptions = PostgresConnectionOptions;

export type PostgresLocker = Locker;

/** The pool of each PostgreSQL locker, for `postgresStore`'s fuse (a locker fuses only with a store on its pool). */
const lockerPools = new WeakMap<Locker, object>();

export function poolOfLocker(locker: Locker): object | undefined {
  return lockerPools.get(locker);
}

/**
 * Advisory locks on a key derived from the id — `pg_advisory_lock_shared` for read,
 * `pg_advisory_lock` for write — held on a pooled client, inside a transaction kept open from acquire
 * to release. A holder that dies loses its connection, and the server frees the lock with it.
 */
export function postgresLocker(options: PostgresLockerOptions): PostgresLocker {
  const { pool, driver, close } = postgresPool(options, 'postgresLocker');
  const locker: PostgresLocker = {
    name: 'postgres',
    capabilities: { sharedReads: true, crossProcess: true, excludes: true },
    async acquire(id, mode, acquireOptions) {
      return (await lockWith(driver, advisoryHold(id, mode), id, mode, acquireOptions)).lock;
    },
    close,
  };
  lockerPools.set(locker, pool);
  return locker;
}
