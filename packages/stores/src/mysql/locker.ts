import type { Locker } from '@tied/core';
import { lockWith } from '../sql/held.js';
import { mysqlHold, mysqlPool, type MySQLConnectionOptions } from './connection.js';

export type MySQLLockerOptions = MySQLConnectionOptions;

export type MySQLLocker = Locker;

/** The pool of each MySQL locker, for `mysqlStore`'s fuse (a locker fuses only with a store on its pool). */
const lockerPools = new WeakMap<Locker, object>();

export function poolOfLocker(locker: Locker): object | undefined {
  return lockerPools.get(locker);
}

/**
 * Perl's Apache::Session::Lock::MySQL: `GET_LOCK('Apache-Session-<id>', timeout)` on a pooled
 * connection held from acquire to release, then `RELEASE_LOCK`. Every lock is exclusive, for reading
 * as for writing. A holder that dies loses its connection, and the server frees the lock with it.
 */
export function mysqlLocker(options: MySQLLockerOptions): MySQLLocker {
  const { pool, driver, close } = mysqlPool(options, 'mysqlLocker');
  const locker: MySQLLocker = {
    name: 'mysql',
    capabilities: { sharedReads: false, crossProcess: true, excludes: true },
    async acquire(id, mode, acquireOptions) {
      return (await lockWith(driver, mysqlHold(id, mode), id, mode, acquireOptions)).lock;
    },
    close,
  };
  lockerPools.set(locker, pool);
  return locker;
}
