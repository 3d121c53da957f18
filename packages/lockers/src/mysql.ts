/** `@tied/lockers/mysql`: the MySQL lockers (GET_LOCK, and lease locks), which live with their store in `@tied/stores/mysql`. */
export { mysqlLocker, mysqlLeaseLocker, lockName, LockLostError, PoolTimeoutError, type MySQLLocker, type MySQLLeaseLocker, type MySQLLeaseLockerOptions, type MySQLLockerOptions, type MySQLConnectionOptions, type MySQLPool } from '@tied/stores/mysql';
