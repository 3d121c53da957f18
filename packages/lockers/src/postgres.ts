import type { Locker } from '@tied/core';
import { lockWith, postgresBackend, postgresBackendKey, type PostgresBackend, type PostgresConnectionOptions } from './postgres-connection.js';

export { LockLostError } from './lock-lost.js';
export { lockKey, type PostgresConnectionOptions } from './postgres-connection.js';

export type PostgresLockerOptions = PostgresConnectionOptions;

export interface PostgresLocker extends Locker {
  /** For `postgresStore` on the same pool: it fuses its statements into this locker's round trips. */
  readonly [postgresBackendKey]: PostgresBackend;
}

/**
 * Session-level advisory locks on a key derived from the id — `pg_advisory_lock_shared` for read,
 * `pg_advisory_lock` for write — on a pooled client held from acquire to release. A holder that dies
 * loses its connection, and the server frees the lock with it.
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
