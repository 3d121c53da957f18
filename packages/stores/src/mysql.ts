/** `@tied/stores/mysql`: tied's MySQL/MariaDB backend (the store, its locker and what they share, in ./mysql/). */
export { mysqlStore, type MySQLStore, type MySQLStoreOptions } from './mysql/store.js';
export { mysqlLocker, type MySQLLocker, type MySQLLockerOptions } from './mysql/locker.js';
export { mysqlLeaseLocker, type MySQLLeaseLocker, type MySQLLeaseLockerOptions } from './mysql/lease.js';
export { lockName, type MySQLConnectionOptions, type MySQLPool } from './mysql/connection.js';
export type { Schema } from './sql/table.js';
export { BackendError, LockLostError, PoolTimeoutError } from '@tied/core';
