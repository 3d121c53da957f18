import type { Locker } from '@tied/core';
import { lockWith, postgresBackend, postgresBackendKey, type PostgresBackend, type PostgresConnectionOptions } from './postgres-connection.js';

export { LockLostError } from '@tied/core';
export { lockKeySql, type PostgresConnectionOptions } from './postgres-connection.js';

export type PostgresLockerOptions = PostgresConnectionOptions;

export interface PostgresLocker extends Locker {
  /** For `postgresStore` on the same pool: it fuses its statements into this locker's round trips. */
  readonly [postgresBackendKey]: PostgresBackend;
}

/**
 * Advisory locks on a key derived from the id — `pg_advisory_xact_lock_shared` for read,
 * `pg_advisory_xact_lock` for write — in a transaction kept open on a pooled client from acquire to
 * release (its commit releases the lock). A holder that dies loses its connection, and the server
 * rolls back and frees the lock with it.
 */
export function postgresLocker(options: PostgresLockerOptions): PostgresLocker {
  const backend = postgresBackend(options, 'postgresLocker');
  return {
    name: 'postgres',
    capabilities: { sharedReads: true, crossProcess: true, excludes: true },
    [postgresBackendKey]: backend,
    async acquire(id, mode, acquireOptions) {
      return (await lockWith(backend, id, mode, acquireOptions)).lock;
    },
    close: () => backend.close(),
  };
}
