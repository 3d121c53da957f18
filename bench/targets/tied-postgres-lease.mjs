import { open as openPostgres } from './tied-postgres.mjs';

/** tied's PostgresSession with lease locks: `PostgresSession.open(id, { pool, table, createTable: true, lock: 'PostgresLease' })`. */
export const open = (options) => openPostgres(options, 'PostgresLease');
