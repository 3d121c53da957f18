import type { Locker } from '@tied/core';
import { lockWith, mysqlBackend, mysqlBackendKey, type MySQLBackend, type MySQLConnectionOptions } from './mysql-connection.js';

export { LockLostError } from '@tied/core';
export { lockName, type MySQLConnectionOptions, type MySQLPool } from './mysql-connection.js';

export type MySQLLockerOptions = MySQLConnectionOptions;

export interface MySQLLocker extends Locker {
  /** For `mysqlStore` on the same pool: it fuses its statements into this locker's round trips. */
  readonly [mysqlBackendKey]: MySQLBackend;
}

/**
 * Perl's Apache::Session::Lock::MySQL: `GET_LOCK('Apache-Session-<id>', timeout)` on a pooled
 * connection held from acquire to release, then `RELEASE_LOCK`. Every lock is exclusive, for reading
 * as for writing. A holder that dies loses its connection, and the server frees the lock with it.
 */
export function mysqlLocker(options: MySQLLockerOptions): MySQLLocker {
  const backend = mysqlBackend(options, 'mysqlLocker');
  return {
    name: 'mysql',
    capabilities: { sharedReads: false, crossProcess: true, excludes: true },
    [mysqlBackendKey]: backend,
    async acquire(id, mode, acquireOptions) {
      return (await lockWith(backend, id, mode, acquireOptions)).lock;
    },
    close: () => backend.close(),
  };
}
