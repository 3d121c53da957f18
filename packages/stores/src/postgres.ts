/** `@tied/stores/postgres`: tied's PostgreSQL backend (the store, its lockers and what they share, in ./postgres/). */
export { postgresStore, type PostgresStore, type PostgresStoreOptions } from './postgres/store.js';
export { postgresLocker, type PostgresLocker, type PostgresLockerOptions } from './postgres/locker.js';
export { postgresLeaseLocker, type PostgresLeaseLocker, type PostgresLeaseLockerOptions } from './postgres/lease.js';
export { postgresRowParts, type PostgresRowParts, type PostgresRowPartsOptions } from './postgres/row.js';
export { lockKeySql, type PostgresConnectionOptions, type PostgresPool } from './postgres/connection.js';
export type { Schema } from './sql/table.js';
export { BackendError, LockLostError, PoolTimeoutError } from '@tied/core';
