/**
 * `@tied/lockers/postgres`: the PostgreSQL lockers, which live with their store in
 * `@tied/stores/postgres` — the advisory locker, the lease locker, and Perl's row lock, made with its store as a pair.
 */
export {
  postgresLocker,
  postgresLeaseLocker,
  postgresRowParts,
  lockKeySql,
  LockLostError,
  PoolTimeoutError,
  type PostgresLocker,
  type PostgresLeaseLocker,
  type PostgresLeaseLockerOptions,
  type PostgresLockerOptions,
  type PostgresRowParts,
  type PostgresRowPartsOptions,
  type PostgresConnectionOptions,
  type PostgresPool,
} from '@tied/stores/postgres';
