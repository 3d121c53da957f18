/**
 * connect-pg-simple's table (its table.sql), made here with names of our own: its
 * `createTableIfMissing` names the primary key `session_pkey` and the index `IDX_session_expire`
 * whatever the table, and those names are per schema, so a second table (another target, the HTTP
 * bench) could not be created beside the first.
 */
export async function createPgSimpleTable(pool, name) {
  await pool.query(`DROP TABLE IF EXISTS ${name}`);
  await pool.query(`CREATE TABLE ${name} (sid varchar NOT NULL COLLATE "default" CONSTRAINT ${name}_pkey PRIMARY KEY, sess json NOT NULL, expire timestamp(6) NOT NULL)`);
  await pool.query(`CREATE INDEX ${name}_expire ON ${name} (expire)`);
}
