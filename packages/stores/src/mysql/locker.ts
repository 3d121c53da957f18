import type { Locker } from '@tied/core';
import { heldLocker } from '../sql/locker.js';
import { mysqlHold, mysqlPool, type MySQLConnectionOptions } from './connection.js';

export type MySQLLockerOptions = MySQLConnectionOptions;
export type MySQLLocker = Locker;

/** The pool of each MySQL locker: `mysqlStore` fuses only with a locker on its own pool. */
const poolsOfLockers = new WeakMap<Locker, object>();
export const poolOfLocker = (locker: Locker): object | undefined => poolsOfLockers.get(locker);

/**
 * Perl's Apache::Session::Lock::MySQL: `GET_LOCK('Apache-Session-<id>', timeout)` on a pooled
 * connection held from acquire to release, then `RELEASE_LOCK`. Every lock is exclusive, for reading
 * as for writing. A holder that dies loses its connection, and the server frees the lock with it.
 */
export function mysqlLocker(options: MySQLLockerOptions): MySQLLocker {
  const { pool, driver, close } = mysqlPool(options, 'mysqlLocker');
  const locker = heldLocker('mysql', false, driver, mysqlHold, close);
  poolsOfLockers.set(locker, pool);
  return locker;
}
