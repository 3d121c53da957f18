/** MySQL's SQL for the shared table layer (../sql/table.ts). */
import { splitTable, type Column, type SqlDialect } from '../sql/table.js';
import { mysqlText } from './connection.js';

const BINARY_TYPES = new Set(['tinyblob', 'blob', 'mediumblob', 'longblob', 'binary', 'varbinary']);
const TEXT_TYPES = new Set(['tinytext', 'text', 'mediumtext', 'longtext', 'char', 'varchar']);
/** Types whose declared length counts characters; the *text types limit bytes. */
const CHARACTER_LIMITED = new Set(['char', 'varchar']);
/** Room in a query packet for the statement around the payload. */
const STATEMENT_OVERHEAD = 1024;

const hex = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');

export const mysqlDialect: SqlDialect = {
  part: 'mysqlStore',
  parseTable(table) {
    const parts = splitTable(table, 'mysqlStore', /^[A-Za-z_][A-Za-z0-9_$]{0,63}$/, 'database');
    return { given: table, quoted: parts.map((part) => `\`${part}\``).join('.'), space: parts.length === 2 ? parts[0]! : null, name: parts.at(-1)! };
  },
  columnsQuery: ({ space, name }) =>
    `SELECT COLUMN_NAME AS name, DATA_TYPE AS type, CHARACTER_MAXIMUM_LENGTH AS chars, CHARACTER_OCTET_LENGTH AS bytes,
       CHARACTER_SET_NAME AS charset, @@max_allowed_packet AS maxPacket
     FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ${space === null ? 'DATABASE()' : `'${space}'`} AND TABLE_NAME = '${name}'`,
  readColumns(rows) {
    const columns: Column[] = rows.map((row) => {
      const type = String(row.type).toLowerCase();
      return {
        name: String(row.name),
        type,
        chars: CHARACTER_LIMITED.has(type) && row.chars !== null ? Number(row.chars) : undefined,
        bytes: row.bytes === null || row.bytes === undefined ? undefined : Number(row.bytes),
        charset: row.charset as string | null,
      };
    });
    return { columns, statementBytes: Number(rows[0]?.maxPacket ?? 4 * 1024 * 1024) - STATEMENT_OVERHEAD };
  },
  isText: (column) => TEXT_TYPES.has(column.type),
  isBinary: (column) => BINARY_TYPES.has(column.type),
  // Another character set would replace or refuse the characters it lacks.
  refuseText: (column, table) => (column.charset === 'utf8mb4' ? undefined : `mysqlStore: ${table.given}.a_session is ${column.type} in ${column.charset}; use a blob column, or utf8mb4`),
  textLiteral: mysqlText,
  bytesLiteral: (bytes) => `X'${hex(bytes)}'`,
  textPayloadLiteral: (text) => `CONVERT(X'${Buffer.from(text, 'utf8').toString('hex')}' USING utf8mb4)`,
  updatedAtMs: 'CAST(UNIX_TIMESTAMP(updated_at) * 1000 AS SIGNED)',
  now: 'NOW()',
  // updated_at keeps whole seconds (NOW() rounds down): the cutoff is 1 s earlier, so a session is purged up to 1 s late, never early.
  cutoffQuery: (ms) => `SELECT ROUND(UNIX_TIMESTAMP(NOW(3)) * 1000) - ${ms + 1000} AS cutoff`,
  savedBefore: (seconds) => `updated_at < FROM_UNIXTIME(${seconds})`,
  deleteSome: (table, condition, limit) => `DELETE FROM ${table.quoted} WHERE ${condition} LIMIT ${limit}`,
  insert: (table, id, value, schema, guard) =>
    `INSERT INTO ${table.quoted} (id, a_session${schema === 'perl' ? '' : ', updated_at'}) SELECT ${id}, ${value}${schema === 'perl' ? '' : ', NOW()'} FROM DUAL${guard ? ` WHERE ${guard}` : ''}`,
  createTable: (table, schema) => schema === 'perl'
    ? `CREATE TABLE IF NOT EXISTS ${table.quoted} (id char(32) not null primary key, a_session blob)`
    : `CREATE TABLE IF NOT EXISTS ${table.quoted} (
         id varchar(256) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
         a_session longblob NOT NULL,
         updated_at timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP,
         KEY updated_at (updated_at)
       )`,
  addUpdatedAt: (table) => `ALTER TABLE ${table.quoted} ADD updated_at timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP, ADD KEY (updated_at)`,
  listedId: 'id',
};
