import type { Locker } from '@tied/core';
import { heldLocker } from '../sql/locker.js';
import { advisoryHold, postgresPool, type PostgresConnectionOptions } from './connection.js';

export type PostgresLockerOptions = PostgresConnectionOptions;
export type PostgresLocker = Locker;

/** Which advisory lockers are on which pool: `postgresStore` fuses only with a locker on its own pool. */
const advisoryLockers = new WeakMap<Locker, object>();
export const poolOfLocker = (locker: Locker): object | undefined => advisoryLockers.get(locker);

/**
 * Advisory locks on a key derived from the id — `pg_advisory_xact_lock_shared` for read,
 * `pg_advisory_xact_lock` for write — held on a pooled client, inside a transaction kept open from
 * acquire to release (see connection.ts). A holder that dies loses its connection, and the server frees the
 * lock with it.
 */
export function postgresLocker(options: PostgresLockerOptions): PostgresLocker {
  const client = postgresPool(options, 'postgresLocker');
  const locker = heldLocker('postgres', true, client.driver, advisoryHold, client.close);
  advisoryLockers.set(locker, client.pool);
  return locker;
}
