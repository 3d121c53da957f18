import { open as openMySQL } from './tied-mysql.mjs';

/** tied's MySQLSession with lease locks: `MySQLSession.open(id, { pool, table, createTable: true, lock: 'MySQLLease' })`. */
export const open = (options) => openMySQL(options, 'MySQLLease');
