/** `@tied/lockers/mysql`: the MySQL locker, which lives with its store in `@tied/stores/mysql`. */
export { mysqlLocker, lockName, LockLostError, PoolTimeoutError, type MySQLLocker, type MySQLLockerOptions, type MySQLConnectionOptions, type MySQLPool } from '@tied/stores/mysql';
