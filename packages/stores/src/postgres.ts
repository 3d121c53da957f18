import type { Pool, QueryResult } from 'pg';
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
  byteaLiteral,
  lockWith,
  postgresBackend,
  postgresBackendKey,
  settle,
  textLiteral,
  type PostgresBackend,
  type PostgresConnectionOptions,
} from '@tied/lockers/postgres-connection';

export type { PostgresConnectionOptions } from '@tied/lockers/postgres-connection';

export interface PostgresStoreOptions extends PostgresConnectionOptions {
  /** The table, `name` or `schema.name`, as you would write it unquoted. Default: the string's `?table=`, else `sessions`. */
  table?: string;
  /**
   * 'recommended' (default): the table `createTable()` makes — ids up to 256 characters, a bytea
   * payload (binary and text serializers), `updated_at` (so `purge` and `maxAge` work). 'perl':
   * Apache::Session::Store::Postgres's `sessions (id char(32) not null primary key, a_session text)`
   * as it is: text serializers only, no `purge` or `maxAge`.
   */
  schema?: 'recommended' | 'perl';
}

export interface PostgresStore extends Store {
  /** The table as given. */
  readonly table: string;
  /** Creates the table of this store's schema (and the index on updated_at), unless they exist. */
  createTable(): Promise<void>;
}

/** What the store learns from the catalog at first write: what the columns hold. */
interface Layout {
  /** a_session is bytea (else text). */
  readonly binary: boolean;
  /** Longest id the id column holds (char(n), varchar(n)). */
  readonly idLength: number | undefined;
}

interface SessionRow {
  data: Buffer | string | null;
  updatedAt?: number | null;
}

/** PostgreSQL's largest field, 1 GB; a bytea goes as hex in the fused statements, twice its size. */
const FIELD_LIMIT = 1024 * 1024 * 1024 - 1;
const STATEMENT_OVERHEAD = 1024;
const LIST_BATCH = 500;

/** `name` or `schema.name`, each a plain identifier; quoted as PostgreSQL folds them (lower case). */
function parseTable(table: string): { quoted: string; name: string } {
  const parts = table.split('.');
  if (parts.length > 2 || !parts.every((part) => /^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(part))) {
    throw new TypeError(`postgresStore: table must be a name or schema.name of letters, digits and _, got ${JSON.stringify(table)}`);
  }
  return { quoted: parts.map((part) => `"${part.toLowerCase()}"`).join('.'), name: parts.at(-1)!.toLowerCase() };
}

/**
 * Sessions in a PostgreSQL table, Perl's Apache::Session::Store::Postgres layout: the id and the
 * serialized session in `a_session`. With `postgresLocker` on the same pool, a locked cycle costs
 * 2 round trips (see @tied/lockers/postgres).
 */
export function postgresStore(options: PostgresStoreOptions): PostgresStore {
  const table = options.table ?? (options.connectionString ? new URL(options.connectionString).searchParams.get('table') : null) ?? 'sessions';
  const { quoted, name } = parseTable(table);
  const perl = options.schema === 'perl';
  if (options.schema !== undefined && options.schema !== 'perl' && options.schema !== 'recommended') {
    throw new TypeError(`postgresStore: schema must be 'recommended' or 'perl', got ${JSON.stringify(options.schema)}`);
  }
  const backend: PostgresBackend = postgresBackend(options, 'postgresStore');
  const pool: Pool = backend.pool;

  let layout: Promise<Layout> | undefined;
  const layoutOf = (): Promise<Layout> => {
    layout ??= inspect().catch((error: unknown) => {
      layout = undefined;
      throw error;
    });
    return layout;
  };

  async function inspect(): Promise<Layout> {
    const { rows } = await pool.query<{ name: string; type: string; typmod: number }>(
      `SELECT a.attname AS name, t.typname AS type, a.atttypmod AS typmod
       FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
       WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped`,
      [quoted],
    );
    const column = (wanted: string) => rows.find((c) => c.name === wanted);
    const id = column('id');
    const payload = column('a_session');
    if (!id || !payload) {
      throw new Error(`postgresStore: table ${table} ${rows.length === 0 ? 'does not exist' : 'has no id or a_session column'}; create it with store.createTable()`);
    }
    if (!perl && !column('updated_at')) {
      throw new Error(`postgresStore: table ${table} has no updated_at column, as in Perl's schema: pass schema: 'perl' (no purge, no maxAge), or add it with ALTER TABLE ${quoted} ADD updated_at timestamptz NOT NULL DEFAULT now(); CREATE INDEX ON ${quoted} (updated_at)`);
    }
    if (payload.type !== 'bytea' && payload.type !== 'text' && !(payload.type === 'varchar' && payload.typmod < 0)) {
      throw new Error(`postgresStore: ${table}.a_session is ${payload.type}${payload.typmod > 4 ? `(${payload.typmod - 4})` : ''}; sessions need a text or bytea column`);
    }
    // char(n) and varchar(n) keep n + 4 in atttypmod; -1 is no limit.
    return { binary: payload.type === 'bytea', idLength: id.typmod > 4 ? id.typmod - 4 : undefined };
  }

  /** The payload as a bytea (bytes, or the UTF-8 of text) or text value, after the checks that keep a write whole. */
  function prepare(data: Payload, current: Layout): Buffer | string {
    if (current.binary) {
      const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
      const limit = Math.floor((FIELD_LIMIT - STATEMENT_OVERHEAD) / 2);
      if (bytes.length > limit) throw new SessionTooLargeError(bytes.length, limit, `a PostgreSQL bytea sent as hex (${table}.a_session)`);
      return bytes;
    }
    if (typeof data !== 'string') {
      throw new SerializationError(`postgresStore: ${table}.a_session is a text column and cannot hold a binary serializer's bytes; use a text serializer (Perl's Postgres flavor uses Base64) or a bytea column`);
    }
    if (data.includes('\0')) throw new SerializationError(`postgresStore: ${table}.a_session is a text column and PostgreSQL text cannot hold NUL characters`);
    const size = Buffer.byteLength(data, 'utf8');
    if (size > FIELD_LIMIT - STATEMENT_OVERHEAD) throw new SessionTooLargeError(size, FIELD_LIMIT - STATEMENT_OVERHEAD, `the PostgreSQL text column ${table}.a_session`);
    return data;
  }

  function checkId(id: string, current: Layout): void {
    if (current.idLength !== undefined && id.length > current.idLength) {
      throw new InvalidSessionIdError(`Session id of ${id.length} characters does not fit ${table}.id (at most ${current.idLength})`);
    }
  }

  const literal = (value: Buffer | string) => (typeof value === 'string' ? textLiteral(value) : byteaLiteral(value));
  const timestamp = perl ? '' : `, (extract(epoch FROM updated_at) * 1000)::float8 AS "updatedAt"`;
  const selectSql = (id: string) => `SELECT a_session AS data${timestamp} FROM ${quoted} WHERE id = ${id}`;
  // updated_at keeps whole seconds: a session saved again within the second changes no indexed value,
  // so the update can be HOT (no index entry written).
  const now = `date_trunc('second', statement_timestamp())`;
  const insertSql = (id: string, value: string) =>
    `INSERT INTO ${quoted} (id, a_session${perl ? '' : ', updated_at'}) VALUES (${id}, ${value}${perl ? '' : `, ${now}`}) ON CONFLICT DO NOTHING`;
  const updateSql = (id: string, value: string) =>
    `UPDATE ${quoted} SET a_session = ${value}${perl ? '' : `, updated_at = ${now}`} WHERE id = ${id}`;
  const stored = (row: SessionRow): StoredSession => ({
    data: row.data ?? Buffer.alloc(0),
    updatedAt: row.updatedAt === null || row.updatedAt === undefined ? undefined : Math.round(row.updatedAt),
  });

  function fuse(locker: Locker): FusedAccess | undefined {
    // Only a PostgreSQL locker on this very pool: its client must see this store's table.
    const lockerBackend = (locker as { [postgresBackendKey]?: PostgresBackend })[postgresBackendKey];
    if (!lockerBackend || lockerBackend.pool !== pool) return undefined;
    return {
      ...separateAccess(store, locker),
      async lockAndMaterialize(id, mode, acquireOptions) {
        const { lock, results } = await lockWith(lockerBackend, id, mode, acquireOptions, [selectSql(textLiteral(id))]);
        const row = results[0]!.rows[0] as SessionRow | undefined;
        if (!row) {
          await lock.release();
          throw new SessionNotFoundError(id);
        }
        return { lock, stored: stored(row) };
      },
      async lockAndInsert(id, data, acquireOptions) {
        const current = await layoutOf();
        checkId(id, current);
        const value = literal(prepare(data, current));
        // The insert commits at once (the store's other connections must see it); the lock stays.
        const { lock, results } = await lockWith(lockerBackend, id, 'write', acquireOptions, [insertSql(textLiteral(id), value)], true);
        if (results[0]!.rowCount === 0) {
          await lock.release();
          throw new SessionExistsError(id);
        }
        return lock;
      },
      async updateAndRelease(lock, id, data) {
        if (data === undefined) {
          await settle(lock);
          return;
        }
        let value: string;
        try {
          value = literal(prepare(data, await layoutOf()));
        } catch (error) {
          await settle(lock);
          throw error;
        }
        const [result] = await settle(lock, [updateSql(textLiteral(id), value)]);
        if (result!.rowCount === 0) throw new SessionNotFoundError(id);
      },
    };
  }

  const store: PostgresStore = {
    name: 'postgres',
    table,
    capabilities: { binary: !perl, text: true, updatedAt: !perl, persistent: true, list: true, purge: !perl },
    async insert(id, data) {
      const current = await layoutOf();
      checkId(id, current);
      const result = await pool.query(insertSql('$1', '$2'), [id, prepare(data, current)]);
      if (result.rowCount === 0) throw new SessionExistsError(id);
    },
    async update(id, data) {
      const result = await pool.query(updateSql('$2', '$1'), [prepare(data, await layoutOf()), id]);
      if (result.rowCount === 0) throw new SessionNotFoundError(id);
    },
    async materialize(id) {
      const { rows } = await pool.query<SessionRow>(selectSql('$1'), [id]);
      if (!rows[0]) throw new SessionNotFoundError(id);
      return stored(rows[0]);
    },
    async remove(id) {
      await pool.query(`DELETE FROM ${quoted} WHERE id = $1`, [id]);
    },
    async *list(): AsyncIterable<StoredSessionInfo> {
      // Keyset pages: a large table is never read into memory at once. id::text drops char(n) padding.
      for (let after = ''; ;) {
        const { rows } = await pool.query<SessionRow & { id: string; size: number | null }>(
          `SELECT id::text AS id, octet_length(a_session) AS size${timestamp} FROM ${quoted} WHERE id > $1 ORDER BY id LIMIT ${LIST_BATCH}`,
          [after],
        );
        for (const row of rows) yield { id: row.id, size: row.size ?? 0, updatedAt: stored(row).updatedAt };
        if (rows.length < LIST_BATCH) return;
        after = rows.at(-1)!.id;
      }
    },
    async createTable() {
      await pool.query(perl
        ? `CREATE TABLE IF NOT EXISTS ${quoted} (id char(32) not null primary key, a_session text)`
        : `CREATE TABLE IF NOT EXISTS ${quoted} (
             id varchar(256) COLLATE "C" NOT NULL PRIMARY KEY,
             a_session bytea NOT NULL,
             updated_at timestamptz NOT NULL DEFAULT date_trunc('second', statement_timestamp())
           );
           CREATE INDEX IF NOT EXISTS "${name}_updated_at" ON ${quoted} (updated_at)`);
      layout = undefined;
    },
    fuse,
    close: () => backend.close(),
  };
  if (!perl) {
    store.purge = async ({ olderThan }) => {
      const result: QueryResult = await pool.query(`DELETE FROM ${quoted} WHERE updated_at < statement_timestamp() - $1 * interval '1 millisecond'`, [olderThan]);
      return result.rowCount ?? 0;
    };
  }
  return store;
}
