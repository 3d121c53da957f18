import type { Pool, ResultSetHeader } from 'mysql2';
import {
  InvalidSessionIdError,
  SerializationError,
  SessionExistsError,
  SessionNotFoundError,
  SessionTooLargeError,
  type FusedAccess,
  type Locker,
  type Payload,
  type Store,
  type StoredSession,
  type StoredSessionInfo,
  separateAccess,
} from '@tied/core';
import {
  lockName,
  lockWith,
  mysqlBackend,
  mysqlBackendKey,
  settle,
  type MySQLBackend,
  type MySQLConnectionOptions,
  type Statement,
} from '@tied/lockers/mysql-connection';

export type { MySQLConnectionOptions, MySQLPool } from '@tied/lockers/mysql-connection';

export interface MySQLStoreOptions extends MySQLConnectionOptions {
  /** The table, `name` or `database.name`. Default: the uri's `?table=`, else `sessions`. */
  table?: string;
  /**
   * 'recommended' (default): the table `createTable()` makes — ids up to 256 characters, a longblob
   * payload, `updated_at` (so `purge` and `maxAge` work). 'perl': Apache::Session::Store::MySQL's
   * `sessions (id char(32) not null primary key, a_session blob)` as it is: no `purge` or `maxAge`,
   * and at most 65,535 bytes a session.
   */
  schema?: 'recommended' | 'perl';
}

export interface MySQLStore extends Store {
  /** The table as given. */
  readonly table: string;
  /** Creates the table of this store's schema, unless it exists. */
  createTable(): Promise<void>;
}

/** What the store learns from information_schema at first write: what the columns hold. */
interface Layout {
  /** Largest payload in bytes that fits the column and one query packet. */
  readonly limit: number;
  /** The column, for error messages. */
  readonly column: string;
  /** a_session is a text column: it takes text payloads only. */
  readonly text: boolean;
  /** Longest id the id column holds; a longer one would be truncated. */
  readonly idLength: number | undefined;
}

interface ColumnRow {
  name: string;
  type: string;
  chars: number | null;
  bytes: number | null;
  charset: string | null;
  maxPacket: number;
}

interface SessionRow {
  data: Buffer | string | null;
  updatedAt?: number | string | null;
}

const BINARY_TYPES = new Set(['tinyblob', 'blob', 'mediumblob', 'longblob', 'binary', 'varbinary']);
const TEXT_TYPES = new Set(['tinytext', 'text', 'mediumtext', 'longtext', 'char', 'varchar']);
/** Room in a query packet for the statement around the payload. */
const STATEMENT_OVERHEAD = 1024;
const LIST_BATCH = 500;
const ER_DUP_ENTRY = 1062;

/** `name` or `database.name`, each a plain identifier, quoted with backticks. */
function parseTable(table: string): { quoted: string; database: string | null; name: string } {
  const parts = table.split('.');
  if (parts.length > 2 || !parts.every((part) => /^[A-Za-z_][A-Za-z0-9_$]{0,63}$/.test(part))) {
    throw new TypeError(`mysqlStore: table must be a name or database.name of letters, digits, _ and $, got ${JSON.stringify(table)}`);
  }
  return { quoted: parts.map((part) => `\`${part}\``).join('.'), database: parts.length === 2 ? parts[0]! : null, name: parts.at(-1)! };
}

/** "Rows matched" from the server's info, so a pool without the FOUND_ROWS flag counts rows written with unchanged bytes. */
function matchedRows(result: ResultSetHeader): number {
  const matched = /Rows matched: (\d+)/.exec(result.info ?? '');
  return matched ? Number(matched[1]) : result.affectedRows;
}

const isDuplicate = (error: unknown): boolean => (error as { errno?: number } | null)?.errno === ER_DUP_ENTRY;

/**
 * Sessions in a MySQL or MariaDB table, Perl's Apache::Session::Store::MySQL layout: the id and the
 * serialized session in `a_session`. Sizes are checked against the column before anything is sent,
 * so a session too large for it is refused (`SessionTooLargeError`) whatever the server's sql_mode
 * would do. With `mysqlLocker` on the same pool, a locked cycle costs 2 round trips.
 */
export function mysqlStore(options: MySQLStoreOptions): MySQLStore {
  const table = options.table ?? (options.uri ? new URL(options.uri).searchParams.get('table') : null) ?? 'sessions';
  const { quoted, database, name } = parseTable(table);
  const perl = options.schema === 'perl';
  if (options.schema !== undefined && options.schema !== 'perl' && options.schema !== 'recommended') {
    throw new TypeError(`mysqlStore: schema must be 'recommended' or 'perl', got ${JSON.stringify(options.schema)}`);
  }
  const backend: MySQLBackend = mysqlBackend(options, 'mysqlStore');
  const pool: Pool = backend.pool;

  const query = <T>(statement: Statement): Promise<T> => backend.query<T>(pool, statement);

  let layout: Promise<Layout> | undefined;
  const layoutOf = (): Promise<Layout> => {
    layout ??= inspect().catch((error: unknown) => {
      layout = undefined;
      throw error;
    });
    return layout;
  };

  async function inspect(): Promise<Layout> {
    const columns = await query<ColumnRow[]>({
      sql: `SELECT COLUMN_NAME AS name, DATA_TYPE AS type, CHARACTER_MAXIMUM_LENGTH AS chars, CHARACTER_OCTET_LENGTH AS bytes,
              CHARACTER_SET_NAME AS charset, @@max_allowed_packet AS maxPacket
            FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = COALESCE(?, DATABASE()) AND TABLE_NAME = ?`,
      values: [database, name],
    });
    const column = (wanted: string) => columns.find((c) => c.name.toLowerCase() === wanted);
    const id = column('id');
    const payload = column('a_session');
    if (!id || !payload) {
      throw new Error(`mysqlStore: table ${table} ${columns.length === 0 ? 'does not exist' : 'has no id or a_session column'}; create it with store.createTable()`);
    }
    if (!perl && !column('updated_at')) {
      throw new Error(`mysqlStore: table ${table} has no updated_at column, as in Perl's schema: pass schema: 'perl' (no purge, no maxAge), or add it with ALTER TABLE ${quoted} ADD updated_at timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP, ADD KEY (updated_at)`);
    }
    const text = TEXT_TYPES.has(payload.type);
    if (!text && !BINARY_TYPES.has(payload.type)) throw new Error(`mysqlStore: ${table}.a_session is a ${payload.type} column; sessions need a blob (or utf8mb4 text) column`);
    // Another character set would replace or refuse characters it lacks: refuse it here, once.
    if (text && payload.charset !== 'utf8mb4') throw new Error(`mysqlStore: ${table}.a_session is ${payload.type} in ${payload.charset}; use a blob column, or utf8mb4`);
    // mysql2 sends a payload inside the SQL text, as hex (bytes) or escaped (text): up to twice its size.
    const packetLimit = Math.floor((Number(payload.maxPacket) - STATEMENT_OVERHEAD) / 2);
    const columnLimit = Number(payload.bytes);
    return {
      limit: Math.min(columnLimit, packetLimit),
      column: columnLimit <= packetLimit ? `the ${payload.type} column ${table}.a_session` : `one MySQL packet (max_allowed_packet ${payload.maxPacket})`,
      text,
      idLength: id.chars ?? undefined,
    };
  }

  /** The payload as mysql2 sends it, after the checks that keep a write from truncating anything. */
  function encode(data: Payload, layout: Layout): Buffer | string {
    let value: Buffer | string;
    if (typeof data === 'string') value = layout.text ? data : Buffer.from(data, 'utf8');
    else if (layout.text) throw new SerializationError(`mysqlStore: ${table}.a_session is a text column and cannot hold a binary serializer's bytes; use a text serializer or a blob column`);
    else value = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    const size = typeof value === 'string' ? Buffer.byteLength(value, 'utf8') : value.length;
    if (size > layout.limit) throw new SessionTooLargeError(size, layout.limit, layout.column);
    return value;
  }

  function checkId(id: string, layout: Layout): void {
    if (layout.idLength !== undefined && id.length > layout.idLength) {
      throw new InvalidSessionIdError(`Session id of ${id.length} characters does not fit ${table}.id (at most ${layout.idLength})`);
    }
  }

  const timestamp = perl ? '' : ', CAST(UNIX_TIMESTAMP(updated_at) * 1000 AS SIGNED) AS updatedAt';
  const select = (id: string): Statement => ({ sql: `SELECT a_session AS data${timestamp} FROM ${quoted} WHERE id = ?`, values: [id] });
  // updated_at keeps whole seconds: a session saved again within the second leaves its index entry alone.
  const update = (id: string, value: Buffer | string): Statement => ({
    sql: `UPDATE ${quoted} SET a_session = ?${perl ? '' : ', updated_at = NOW()'} WHERE id = ?`,
    values: [value, id],
  });
  // The fused insert writes only when this connection holds the lock: GET_LOCK may have timed out.
  const insert = (id: string, value: Buffer | string, locked: boolean): Statement => ({
    sql: `INSERT INTO ${quoted} (id, a_session${perl ? '' : ', updated_at'}) SELECT ?, ?${perl ? '' : ', NOW()'} FROM DUAL${locked ? ' WHERE IS_USED_LOCK(?) = CONNECTION_ID()' : ''}`,
    values: locked ? [id, value, lockName(id)] : [id, value],
  });
  const stored = (row: SessionRow): StoredSession => ({
    data: row.data ?? Buffer.alloc(0),
    updatedAt: row.updatedAt === null || row.updatedAt === undefined ? undefined : Number(row.updatedAt),
  });

  function fuse(locker: Locker): FusedAccess | undefined {
    // Only a MySQL locker on this very pool: its connection must see this store's table.
    const lockerBackend = (locker as { [mysqlBackendKey]?: MySQLBackend })[mysqlBackendKey];
    if (!lockerBackend || lockerBackend.pool !== pool) return undefined;
    return {
      ...separateAccess(store, locker),
      async lockAndMaterialize(id, mode, acquireOptions) {
        const { lock, results } = await lockWith(lockerBackend, id, mode, acquireOptions, [select(id)]);
        const row = (results[0] as SessionRow[])[0];
        if (!row) {
          await lock.release();
          throw new SessionNotFoundError(id);
        }
        return { lock, stored: stored(row) };
      },
      async lockAndInsert(id, data, acquireOptions) {
        const current = await layoutOf();
        checkId(id, current);
        const value = encode(data, current);
        try {
          return (await lockWith(lockerBackend, id, 'write', acquireOptions, [insert(id, value, true)])).lock;
        } catch (error) {
          throw isDuplicate(error) ? new SessionExistsError(id, { cause: error }) : error;
        }
      },
      async updateAndRelease(lock, id, data) {
        if (data === undefined) {
          await settle(lock);
          return;
        }
        let value: Buffer | string;
        try {
          value = encode(data, await layoutOf());
        } catch (error) {
          await settle(lock);
          throw error;
        }
        const [result] = await settle(lock, [update(id, value)]);
        if (matchedRows(result as ResultSetHeader) === 0) throw new SessionNotFoundError(id);
      },
    };
  }

  const store: MySQLStore = {
    name: 'mysql',
    table,
    capabilities: { binary: true, text: true, maxPayloadBytes: perl ? 65_535 : undefined, updatedAt: !perl, persistent: true, list: true, purge: !perl },
    async insert(id, data) {
      const current = await layoutOf();
      checkId(id, current);
      try {
        await query(insert(id, encode(data, current), false));
      } catch (error) {
        throw isDuplicate(error) ? new SessionExistsError(id, { cause: error }) : error;
      }
    },
    async update(id, data) {
      const result = await query<ResultSetHeader>(update(id, encode(data, await layoutOf())));
      if (matchedRows(result) === 0) throw new SessionNotFoundError(id);
    },
    async materialize(id) {
      const [row] = await query<SessionRow[]>(select(id));
      if (!row) throw new SessionNotFoundError(id);
      return stored(row);
    },
    async remove(id) {
      await query({ sql: `DELETE FROM ${quoted} WHERE id = ?`, values: [id] });
    },
    async *list(): AsyncIterable<StoredSessionInfo> {
      // Keyset pages: a large table is never read into memory at once.
      for (let after = ''; ;) {
        const rows = await query<(SessionRow & { id: string; size: number | null })[]>({
          sql: `SELECT id, LENGTH(a_session) AS size${timestamp} FROM ${quoted} WHERE id > ? ORDER BY id LIMIT ${LIST_BATCH}`,
          values: [after],
        });
        for (const row of rows) yield { id: row.id, size: Number(row.size ?? 0), updatedAt: stored(row).updatedAt };
        if (rows.length < LIST_BATCH) return;
        after = rows.at(-1)!.id;
      }
    },
    async createTable() {
      await query({
        sql: perl
          ? `CREATE TABLE IF NOT EXISTS ${quoted} (id char(32) not null primary key, a_session blob)`
          : `CREATE TABLE IF NOT EXISTS ${quoted} (
               id varchar(256) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
               a_session longblob NOT NULL,
               updated_at timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP,
               KEY updated_at (updated_at)
             )`,
      });
      layout = undefined;
    },
    fuse,
    close: () => backend.close(),
  };
  if (!perl) {
    store.purge = async ({ olderThan }) => {
      const result = await query<ResultSetHeader>({ sql: `DELETE FROM ${quoted} WHERE updated_at < NOW(3) - INTERVAL ? MICROSECOND`, values: [Math.round(olderThan * 1000)] });
      return result.affectedRows;
    };
  }
  return store;
}
