import {
  SessionExistsError,
  SessionNotFoundError,
  SessionTooLargeError,
  type FusedAccess,
  type Locker,
  type Payload,
  type Store,
  type StoredSession,
  type StoredSessionInfo,
} from '@tied/core';
import { fusedAccess, notASession } from './access.js';
import { checkOptions, connect, type RedisConnectionOptions } from './connection.js';
import { checkPrefix, dataKey, dataKeyPattern, idOfDataKey, newToken } from './keys.js';
import { leasesOf } from './locker.js';
import { DESCRIBE, INSERT, PURGE_ONE, READ, REMOVE, UPDATE } from './scripts.js';

export interface RedisStoreOptions extends RedisConnectionOptions {
  /** Put before every data key: `<prefix>{<id>}`. Default `tied:`. */
  prefix?: string;
  /** Milliseconds a session lives after its last write (Redis expires it: PEXPIRE on every write). Default: no expiry. */
  ttl?: number;
  /** Larger sessions are refused with `SessionTooLargeError`. Default 512 MiB, Redis's largest value. */
  maxPayloadBytes?: number;
  /**
   * Acknowledge a write only once this many replicas have it (Redis WAIT, sent with the write in one
   * round trip), so that a failover of its master cannot lose it. Default 0: Redis's asynchronous
   * replication, where a write acknowledged just before its master dies may be lost.
   */
  replicas?: number;
  /** With `replicas`: how long, in ms, a write waits for them before failing with `BackendError`. Default 1000. */
  replicaTimeout?: number;
}

/** Redis's default proto-max-bulk-len: no larger value can be written. */
const REDIS_MAX_VALUE = 512 * 1024 * 1024;
/**
 * Keys per SCAN; list and purge send one script per key of a batch at once, so a request of the
 * application on the same connection waits behind at most this many.
 */
const SCAN_BATCH = 100;

/**
 * Sessions in Redis, one hash per session at `<prefix>{<id>}`. With `ttl`, Redis expires a session
 * `ttl` ms after its last write (reads do not extend it; `touch()` does). `purge` removes sessions
 * not written for `olderThan` ms, for cutoffs shorter than `ttl` or stores without one. Fused with a
 * `redisLocker` on the same client (or url), a locked cycle costs 2 round trips, and every write made
 * under a lock is fenced by its lease: refused with `LockLostError` once the lease has run out.
 */
export function redisStore(options: RedisStoreOptions): Store {
  checkOptions(options, 'redisStore', ['client', 'url', 'prefix', 'ttl', 'maxPayloadBytes', 'replicas', 'replicaTimeout']);
  const prefix = checkPrefix(options.prefix ?? 'tied:', 'redisStore');
  const ttl = options.ttl;
  if (ttl !== undefined && (!Number.isInteger(ttl) || ttl <= 0)) throw new RangeError(`redisStore: ttl must be a positive integer (ms), got ${ttl}`);
  const maxPayloadBytes = options.maxPayloadBytes ?? REDIS_MAX_VALUE;
  if (!Number.isInteger(maxPayloadBytes) || maxPayloadBytes <= 0 || maxPayloadBytes > REDIS_MAX_VALUE) {
    throw new RangeError(`redisStore: maxPayloadBytes must be an integer from 1 to ${REDIS_MAX_VALUE}, got ${maxPayloadBytes}`);
  }
  const { replicas = 0, replicaTimeout = 1000 } = options;
  if (!Number.isInteger(replicas) || replicas < 0) throw new RangeError(`redisStore: replicas must be an integer of at least 0, got ${replicas}`);
  if (!Number.isInteger(replicaTimeout) || replicaTimeout <= 0) throw new RangeError(`redisStore: replicaTimeout must be a positive integer (ms), got ${replicaTimeout}`);
  const replication = replicas > 0 ? { replicas, timeout: replicaTimeout } : undefined;
  const connection = connect(options, 'redisStore');
  const { client } = connection;
  const keyOf = (id: string) => dataKey(prefix, id);
  const ttlArg = ttl === undefined ? '' : String(ttl);
  let writes = 0;
  const writeArgs = (token: string) => [Date.now(), `${token}:${++writes}`, ttlArg];

  /** The bytes to send, after refusing what is too large. */
  const bytesOf = (data: Payload): string | Buffer => {
    const size = typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength;
    if (size > maxPayloadBytes) throw new SessionTooLargeError(size, maxPayloadBytes, 'the redis store');
    // ioredis sends a Buffer as bytes, but would send a plain Uint8Array as "1,2,3".
    return typeof data === 'string' ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  };

  /** Every data key under this prefix, once each, from every master of a Cluster. */
  async function* keys(): AsyncGenerator<string[]> {
    const pattern = dataKeyPattern(prefix);
    const nodes = client.isCluster && client.nodes ? client.nodes('master') : [client];
    const seen = new Set<string>();
    for (const node of nodes) {
      let cursor = '0';
      do {
        const [next, batch] = await connection.send(() => node.scan(cursor, 'MATCH', pattern, 'COUNT', SCAN_BATCH));
        cursor = next;
        const fresh = batch.filter((key) => !seen.has(key));
        for (const key of fresh) seen.add(key);
        if (fresh.length > 0) yield fresh;
      } while (cursor !== '0');
    }
  }

  const store: Store = {
    name: 'redis',
    capabilities: { binary: true, text: true, maxPayloadBytes, updatedAt: true, persistent: true, list: true, purge: true },

    async insert(id, data) {
      const reply = await connection.runWrite(INSERT, [keyOf(id)], [bytesOf(data), ...writeArgs(newToken())], replication);
      if (reply === 0) throw new SessionExistsError(id);
    },

    async update(id, data) {
      const reply = await connection.runWrite(UPDATE, [keyOf(id)], [bytesOf(data), ...writeArgs(newToken())], replication);
      if (reply === 0) throw new SessionNotFoundError(id);
      if (reply !== 1) throw notASession(id, keyOf(id), reply as Buffer);
    },

    async materialize(id): Promise<StoredSession> {
      const reply = (await connection.run(READ, [keyOf(id)], [])) as [Buffer, Buffer] | Buffer | null;
      if (reply === null) throw new SessionNotFoundError(id);
      if (!Array.isArray(reply)) throw notASession(id, keyOf(id), reply);
      return { data: reply[0], updatedAt: Number(reply[1].toString()) };
    },

    async remove(id) {
      await connection.runWrite(REMOVE, [keyOf(id)], [], replication);
    },

    async *list(): AsyncIterable<StoredSessionInfo> {
      for await (const batch of keys()) {
        const replies = await Promise.all(batch.map((key) => connection.run(DESCRIBE, [key], []) as Promise<[Buffer, number] | null>));
        for (const [index, reply] of replies.entries()) {
          if (reply) yield { id: idOfDataKey(prefix, batch[index]!), updatedAt: Number(reply[0].toString()), size: reply[1] };
        }
      }
    },

    async purge({ olderThan, onProgress }) {
      const cutoff = Date.now() - olderThan;
      let removed = 0;
      let examined = 0;
      for await (const batch of keys()) {
        const replies = await Promise.all(batch.map((key) => connection.run(PURGE_ONE, [key], [cutoff])));
        removed += replies.filter((reply) => reply === 1).length;
        examined += batch.length;
        onProgress?.({ removed, examined });
      }
      onProgress?.({ removed, examined });
      return removed;
    },

    close: () => connection.close(),

    fuse(locker: Locker): FusedAccess | undefined {
      const leases = leasesOf(locker);
      // The fused scripts run on this store's client: sound only when the locker's leases live on the same server.
      const sameServer = leases && (leases.connection.client === client || (connection.url !== undefined && leases.connection.url === connection.url));
      return sameServer ? fusedAccess({ connection, dataKey: keyOf, bytesOf, writeArgs, replication }, leases) : undefined;
    },
  };
  return store;
}
