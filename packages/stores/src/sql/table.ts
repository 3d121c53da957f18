/**
 * The one table layer of tied's SQL stores, after Apache::Session's Store::DBI: a table with `id` and
 * `a_session`, and — in the recommended schema — `updated_at`, which `purge` and `maxAge` need. The
 * layout is read from the catalog, once: Perl's schema (no `updated_at`) works unchanged, with
 * `purge` and `maxAge` refused. The dialects (`mysql/`, `postgres/`) give the SQL that differs.
 *
 * Values never travel as escaped strings: ids and names of plain characters go as quoted literals
 * (no quote, no backslash: no server setting reads them otherwise), anything else and every payload
 * as hexadecimal that the server decodes — so neither `NO_BACKSLASH_ESCAPES` nor
 * `standard_conforming_strings` nor the client encoding can change what is stored.
 */
import { InvalidSessionIdError, SerializationError, SessionTooLargeError, type Payload } from '@tied/core';

export type Schema = 'recommended' | 'perl';

/** One column as the dialect reads it from the catalog. */
export interface Column {
  readonly name: string;
  /** The type, lower case: `blob`, `varchar`, `bytea`, `text`, ... */
  readonly type: string;
  /** For a column of limited characters (char(n), varchar(n)): n. */
  readonly chars?: number;
  /** Largest value in bytes. */
  readonly bytes?: number;
  readonly charset?: string | null;
}

/** What the store knows of its table once it has read the catalog. */
export interface Layout {
  readonly schema: Schema;
  /** a_session is a text column (text payloads only), else binary. */
  readonly text: boolean;
  /** Most characters a_session holds, for a column that limits characters. */
  readonly maxChars: number | undefined;
  /** Most bytes a_session holds (or that one statement can carry). */
  readonly maxBytes: number;
  /** What `maxBytes` / `maxChars` are the limit of, for messages. */
  readonly where: string;
  /** Longest id the id column holds. */
  readonly idLength: number | undefined;
}

/** A parsed `name` or `database.name`, quoted by the dialect. */
export interface TableName {
  readonly given: string;
  readonly quoted: string;
  /** The schema or database part, if given. */
  readonly space: string | null;
  readonly name: string;
}

export interface SqlDialect {
  /** 'mysqlStore', 'postgresStore': names the store in messages. */
  readonly part: string;
  parseTable(table: string): TableName;
  /** The statement that lists the table's columns (name, type, chars, bytes, charset). */
  columnsQuery(table: TableName): string;
  /** Columns from its rows, and what one statement can carry. */
  readColumns(rows: readonly Record<string, unknown>[]): { columns: Column[]; statementBytes: number };
  /** The payload column's type is a text type / a binary type. */
  isText(column: Column): boolean;
  isBinary(column: Column): boolean;
  /** Refuses a text column that cannot hold every character (a non-Unicode charset); a message, or undefined. */
  refuseText?(column: Column, table: TableName): string | undefined;
  /** A text value as SQL. */
  textLiteral(text: string): string;
  /** Bytes as SQL (for a binary column). */
  bytesLiteral(bytes: Uint8Array): string;
  /** A payload as SQL for a text column. */
  textPayloadLiteral(text: string): string;
  /** The stored session's `updated_at` as ms since the epoch. */
  readonly updatedAtMs: string;
  /** What `updated_at` is set to. */
  readonly now: string;
  /** A query of one row whose `cutoff` is the server's time `ms` milliseconds ago, in ms since the epoch. */
  cutoffQuery(ms: number): string;
  /** The condition that `updated_at` is before `seconds` since the epoch (a decimal literal). */
  savedBefore(seconds: string): string;
  /** Deletes at most `limit` rows that meet `condition`: one batch of `purge`. */
  deleteSome(table: TableName, condition: string, limit: number): string;
  /** An insert of a new row; `guard`, when given, is a condition the insert must meet to write. */
  insert(table: TableName, id: string, value: string, schema: Schema, guard?: string): string;
  createTable(table: TableName, schema: Schema): string;
  /** How to add `updated_at` to Perl's table, for the messages that refuse purge and maxAge. */
  addUpdatedAt(table: TableName): string;
  /** The id as listed (PostgreSQL's char(n) would keep its padding). */
  readonly listedId: string;
}

/** Characters as SQL servers count them: code points. */
export function codePoints(text: string): number {
  let count = text.length;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        count--;
        i++;
      }
    }
  }
  return count;
}

/** Characters that are the same in every string-literal syntax and every server setting. */
export const PLAIN = /^[A-Za-z0-9_.:\-]*$/;

/** `name` or `space.name`, each a plain identifier. */
export function splitTable(table: string, part: string, identifier: RegExp, what: string): string[] {
  const parts = typeof table === 'string' ? table.split('.') : [];
  if (parts.length === 0 || parts.length > 2 || !parts.every((piece) => identifier.test(piece))) {
    throw new TypeError(`${part}: table must be a name or ${what}.name of letters, digits and _, got ${JSON.stringify(table)}`);
  }
  return parts;
}

/**
 * The layout of a table from its columns. `declared` is the `schema` option when given: it is then
 * checked against the table rather than detected.
 */
export function layoutOf(dialect: SqlDialect, table: TableName, columns: readonly Column[], statementBytes: number, declared: Schema | undefined): Layout {
  const column = (wanted: string) => columns.find((c) => c.name.toLowerCase() === wanted);
  const id = column('id');
  const payload = column('a_session');
  if (!id || !payload) {
    throw new Error(`${dialect.part}: table ${table.given} ${columns.length === 0 ? 'does not exist' : 'has no id or a_session column'}; create it with store.createTable()`);
  }
  const schema: Schema = column('updated_at') ? 'recommended' : 'perl';
  if (declared === 'recommended' && schema === 'perl') {
    throw new Error(`${dialect.part}: table ${table.given} has no updated_at column, as in Perl's schema: leave schema out (Perl's table then works, without purge or maxAge), or add it with ${dialect.addUpdatedAt(table)}`);
  }
  const text = dialect.isText(payload);
  if (!text && !dialect.isBinary(payload)) {
    throw new Error(`${dialect.part}: ${table.given}.a_session is a ${payload.type} column; sessions need a binary or a text column`);
  }
  const refused = text ? dialect.refuseText?.(payload, table) : undefined;
  if (refused) throw new Error(refused);
  // Payloads go as hexadecimal: twice their bytes in the statement.
  const carried = Math.floor(statementBytes / 2);
  const columnBytes = payload.bytes ?? Number.POSITIVE_INFINITY;
  return {
    schema,
    text,
    maxChars: payload.chars,
    maxBytes: Math.min(columnBytes, carried),
    where: columnBytes <= carried ? `the ${payload.type} column ${table.given}.a_session` : `one statement to the server (${table.given}.a_session)`,
    idLength: id.chars,
  };
}

/** The payload as SQL, after the checks that keep a write from truncating or changing anything. */
export function payloadLiteral(dialect: SqlDialect, table: TableName, layout: Layout, data: Payload): string {
  if (layout.text) {
    if (typeof data !== 'string') {
      throw new SerializationError(`${dialect.part}: ${table.given}.a_session is a text column and cannot hold a binary serializer's bytes; use a text serializer (Perl's schema: base64(storable())) or a binary column`);
    }
    if (data.includes('\0')) throw new SerializationError(`${dialect.part}: ${table.given}.a_session is a text column and cannot hold NUL characters`);
    if (layout.maxChars !== undefined) {
      const chars = codePoints(data);
      if (chars > layout.maxChars) throw new SessionTooLargeError(chars, layout.maxChars, `the column ${table.given}.a_session`, { unit: 'characters' });
    }
    const bytes = Buffer.byteLength(data, 'utf8');
    if (bytes > layout.maxBytes) throw new SessionTooLargeError(bytes, layout.maxBytes, layout.where);
    return dialect.textPayloadLiteral(data);
  }
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  if (bytes.byteLength > layout.maxBytes) throw new SessionTooLargeError(bytes.byteLength, layout.maxBytes, layout.where);
  return dialect.bytesLiteral(bytes);
}

/** Refuses an id the id column would truncate. */
export function checkId(dialect: SqlDialect, table: TableName, layout: Layout, id: string): void {
  if (layout.idLength !== undefined && id.length > layout.idLength) {
    throw new InvalidSessionIdError(`Session id of ${id.length} characters does not fit ${table.given}.id (at most ${layout.idLength})`);
  }
}

/** The statements of a store on one table. */
export function statementsFor(dialect: SqlDialect, table: TableName) {
  const timestamp = (layout: Layout) => (layout.schema === 'perl' ? '' : `, ${dialect.updatedAtMs} AS updated_ms`);
  // updated_at keeps whole seconds: a session saved again within the second leaves its index entry alone.
  const assign = (layout: Layout, value: string, alias = '') =>
    `${alias}a_session = ${value}${layout.schema === 'perl' ? '' : `, ${alias}updated_at = ${dialect.now}`}`;
  const columns = (layout: Layout) => `a_session AS data${timestamp(layout)}`;
  return {
    /** The columns a read selects (`data`, and `updated_ms` in the recommended schema). */
    columns,
    /** The SET list of a write. */
    assign,
    select: (layout: Layout, id: string) => `SELECT ${columns(layout)} FROM ${table.quoted} WHERE id = ${dialect.textLiteral(id)}`,
    update: (layout: Layout, id: string, value: string) => `UPDATE ${table.quoted} SET ${assign(layout, value)} WHERE id = ${dialect.textLiteral(id)}`,
    insert: (layout: Layout, id: string, value: string, guard?: string) => dialect.insert(table, dialect.textLiteral(id), value, layout.schema, guard),
    remove: (id: string) => `DELETE FROM ${table.quoted} WHERE id = ${dialect.textLiteral(id)}`,
    // Keyset pages: a large table is never read into memory at once.
    list: (layout: Layout, after: string, batch: number) =>
      `SELECT ${dialect.listedId} AS id, octet_length(a_session) AS size${timestamp(layout)} FROM ${table.quoted} WHERE id > ${dialect.textLiteral(after)} ORDER BY id LIMIT ${batch}`,
    cutoff: (olderThan: number) => dialect.cutoffQuery(Math.max(0, Math.round(olderThan))),
    // Batches: one DELETE of every expired row would hold its locks (and the table's undo) until the last is gone.
    purge: (cutoffMs: number, batch: number) => dialect.deleteSome(table, dialect.savedBefore((cutoffMs / 1000).toFixed(3)), batch),
  };
}

export type TableStatements = ReturnType<typeof statementsFor>;
