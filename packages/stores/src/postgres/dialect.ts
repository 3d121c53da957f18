/** PostgreSQL's SQL for the shared table layer (../sql/table.ts). */
import { splitTable, type Column, type SqlDialect } from '../sql/table.js';
import { postgresBytes, postgresText } from './connection.js';

/** PostgreSQL's largest field, 1 GB. */
const FIELD_LIMIT = 1024 * 1024 * 1024 - 1;
const STATEMENT_OVERHEAD = 1024;

export const postgresDialect: SqlDialect = {
  part: 'postgresStore',
  // Quoted as PostgreSQL folds unquoted names (lower case), as Perl's unquoted SQL does.
  parseTable(table) {
    const parts = splitTable(table, 'postgresStore', /^[A-Za-z_][A-Za-z0-9_]{0,62}$/, 'schema').map((part) => part.toLowerCase());
    return { given: table, quoted: parts.map((part) => `"${part}"`).join('.'), space: parts.length === 2 ? parts[0]! : null, name: parts.at(-1)! };
  },
  columnsQuery: ({ quoted }) =>
    `SELECT a.attname AS name, t.typname AS type, a.atttypmod AS typmod
     FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
     WHERE a.attrelid = to_regclass('${quoted}') AND a.attnum > 0 AND NOT a.attisdropped`,
  readColumns(rows) {
    const columns: Column[] = rows.map((row) => {
      const typmod = Number(row.typmod);
      const type = row.type === 'bpchar' ? 'char' : String(row.type);
      // char(n) and varchar(n) keep n + 4 in atttypmod; -1 is no limit.
      return { name: String(row.name), type, chars: typmod > 4 ? typmod - 4 : undefined, bytes: FIELD_LIMIT };
    });
    return { columns, statementBytes: FIELD_LIMIT - STATEMENT_OVERHEAD };
  },
  isText: (column) => column.type === 'text' || column.type === 'varchar',
  isBinary: (column) => column.type === 'bytea',
  textLiteral: postgresText,
  bytesLiteral: postgresBytes,
  textPayloadLiteral: (text) => `convert_from(${postgresBytes(Buffer.from(text, 'utf8'))}, 'UTF8')`,
  updatedAtMs: '(extract(epoch FROM updated_at) * 1000)::float8',
  // Whole seconds: a session saved again within the second changes no indexed value, so the update can be HOT.
  now: "date_trunc('second', statement_timestamp())",
  // updated_at keeps whole seconds (rounded down): a session is certainly older than `ms` only when
  // updated_at + 1 s is, so the cutoff is 1 s earlier still — purged up to 1 s late, never early.
  cutoffQuery: (ms) => `SELECT floor(extract(epoch FROM statement_timestamp()) * 1000)::float8 - ${ms + 1000} AS cutoff`,
  savedBefore: (seconds) => `updated_at < to_timestamp(${seconds})`,
  // No DELETE … LIMIT here. The condition is checked again on the row itself, so that a row saved
  // between the subquery's snapshot and its deletion is kept.
  deleteSome: (table, condition, limit) =>
    `DELETE FROM ${table.quoted} WHERE id IN (SELECT id FROM ${table.quoted} WHERE ${condition} LIMIT ${limit}) AND ${condition}`,
  insert(table, id, value, schema, guard) {
    const values = `${id}, ${value}${schema === 'perl' ? '' : ", date_trunc('second', statement_timestamp())"}`;
    return `INSERT INTO ${table.quoted} (id, a_session${schema === 'perl' ? '' : ', updated_at'}) ${guard ? `SELECT ${values} WHERE ${guard}` : `VALUES (${values})`} ON CONFLICT DO NOTHING`;
  },
  createTable: (table, schema) => schema === 'perl'
    ? `CREATE TABLE IF NOT EXISTS ${table.quoted} (id char(32) not null primary key, a_session text)`
    : `CREATE TABLE IF NOT EXISTS ${table.quoted} (
         id varchar(256) COLLATE "C" NOT NULL PRIMARY KEY,
         a_session bytea NOT NULL,
         updated_at timestamptz NOT NULL DEFAULT date_trunc('second', statement_timestamp())
       );
       CREATE INDEX IF NOT EXISTS "${table.name}_updated_at" ON ${table.quoted} (updated_at)`,
  addUpdatedAt: (table) => `ALTER TABLE ${table.quoted} ADD updated_at timestamptz NOT NULL DEFAULT now(); CREATE INDEX ON ${table.quoted} (updated_at)`,
  // id::text drops char(n) padding.
  listedId: 'id::text',
};
