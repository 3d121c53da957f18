import { Cluster } from 'ioredis';
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
  separateAccess,
} from '@tied/core';
import { leaseAccess, redisKeys, type LeaseAccess, type RedisConnectionOptions, type RedisLocker } from '@tied/lockers/redis';

const { TAKE_LEASE_LUA, backendError, checkPrefix, connectionOf, dataKey, leaseLost, newToken, runScript, script } = redisKeys;

export { BackendError, LockLostError, type RedisClient } from '@tied/lockers/redis';

export interface RedisStoreOptions extends RedisConnectionOptions {
  /** Put before every data key: `<prefix>{<id>}`. Default `tied:`. */
  prefix?: string;
  /** Milliseconds a session lives after its last write (Redis expires it: PEXPIRE on every write). Default: no expiry. */
  ttl?: number;
  /** Larger sessions are refused with `SessionTooLargeError`. Default 512 MiB, Redis's largest value. */
  maxPayloadBytes?: number;
}

/**
 * A session is a hash: `d` the serialized bytes, `t` when it was written (ms), `w` which write that
 * was (so that a write resent by ioredis after a reconnect knows it was applied already).
 */
const WRITE_LUA = `
local function write(key, data, now, write_id, ttl)
  redis.call('HSET', key, 'd', data, 't', now, 'w', write_id)
  if ttl == '' then redis.call('PERSIST', key) else redis.call('PEXPIRE', key, ttl) end
end
`;

/** KEYS: data. ARGV: data, now, write id, ttl. 1 inserted, 0 exists. */
const INSERT = script(`${WRITE_LUA}
if redis.call('EXISTS', KEYS[1]) == 1 then
  return redis.call('HGET', KEYS[1], 'w') == ARGV[3] and 1 or 0
end
write(KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4])
return 1`);

/**
 * KEYS: data[, lock]. ARGV: data, now, write id, ttl[, token, '1' to release]. With a lock key the
 * write is fenced: refused (-1) unless the lease is still this token's. 1 written, 0 missing.
 */
const UPDATE = script(`${WRITE_LUA}
if KEYS[2] and redis.call('GET', KEYS[2]) ~= ARGV[5] then
  return redis.call('HGET', KEYS[1], 'w') == ARGV[3] and 1 or -1
end
local found = redis.call('EXISTS', KEYS[1]) == 1
if found then write(KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4]) end
if KEYS[2] and ARGV[6] == '1' then redis.call('DEL', KEYS[2]) end
return found and 1 or 0`);

/** KEYS: data, lock. ARGV: token. Fenced remove: 1 removed, -1 the lease is not this token's. */
const REMOVE = script(`if redis.call('GET', KEYS[2]) ~= ARGV[1] then return -1 end
redis.call('DEL', KEYS[1])
return 1`);

/** KEYS: data, lock. ARGV: token, lease. {0} busy; {1, data, time} locked and read; {2} missing (lease dropped). */
const LOCK_AND_READ = script(`${TAKE_LEASE_LUA}
if not take_lease(KEYS[2], ARGV[1], ARGV[2]) then return {0} end
local found = redis.call('HMGET', KEYS[1], 'd', 't')
if not found[1] then
  redis.call('DEL', KEYS[2])
  return {2}
end
return {1, found[1], found[2]}`);

/** KEYS: data, lock. ARGV: token, lease, data, now, write id, ttl. 1 locked and inserted; 0 the id is taken. */
const LOCK_AND_INSERT = script(`${TAKE_LEASE_LUA}${WRITE_LUA}
if redis.call('EXISTS', KEYS[1]) == 1 then
  return redis.call('HGET', KEYS[1], 'w') == ARGV[5] and take_lease(KEYS[2], ARGV[1], ARGV[2]) and 1 or 0
end
if not take_lease(KEYS[2], ARGV[1], ARGV[2]) then return 0 end
write(KEYS[1], ARGV[3], ARGV[4], ARGV[5], ARGV[6])
return 1`);

/** KEYS: data. ARGV: cutoff (ms). Removes the session when its last write is older: 1, else 0. */
const PURGE_ONE = script(`local t = tonumber(redis.call('HGET', KEYS[1], 't'))
if t and t < tonumber(ARGV[1]) then return redis.call('DEL', KEYS[1]) end
return 0`);

/** Redis's default proto-max-bulk-len: no larger value can be written. */
const REDIS_MAX_VALUE = 512 * 1024 * 1024;
const SCAN_BATCH = 1000;

/**
 * Sessions in Redis, one hash per session at `<prefix>{<id>}`. With `ttl`, Redis expires a session
 * `ttl` ms after its last write (reads do not extend it; `touch()` does). `purge` removes sessions
 * not written for `olderThan` ms, for cutoffs shorter than `ttl` or stores without one. Fused with a
 * `redisLocker` on the same client (or url), a locked cycle costs 2 round trips, and every write made
 * under a lock is fenced: refused with `LockLostError` once the lease has run out.
 */
export function redisStore(options: RedisStoreOptions): Store {
  const prefix = checkPrefix(options.prefix ?? 'tied:', 'redisStore');
  const ttl = options.ttl;
  if (ttl !== undefined && (!Number.isInteger(ttl) || ttl <= 0)) throw new RangeError(`redisStore: ttl must be a positive integer (ms), got ${ttl}`);
  const maxPayloadBytes = options.maxPayloadBytes ?? REDIS_MAX_VALUE;
  if (!Number.isInteger(maxPayloadBytes) || maxPayloadBytes <= 0 || maxPayloadBytes > REDIS_MAX_VALUE) {
    throw new RangeError(`redisStore: maxPayloadBytes must be an integer from 1 to ${REDIS_MAX_VALUE}, got ${maxPayloadBytes}`);
  }
  const { client, url, owned } = connectionOf(options, 'redisStore');
  const keyOf = (id: string) => dataKey(prefix, id);
  const ttlArg = ttl === undefined ? '' : String(ttl);
  /** Lockers fused with this store: a write of an id one of them holds is fenced with its lease. */
  const fusedWith = new Set<LeaseAccess>();
  let writes = 0;
  const writeId = (token: string) => `${token}:${++writes}`;

  /** The bytes to send, after refusing what is too large. */
  const checked = (data: Payload): string | Buffer => {
    const size = typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength;
    if (size > maxPayloadBytes) throw new SessionTooLargeError(size, maxPayloadBytes, 'the redis store');
    // ioredis sends a Buffer as bytes, but would send a plain Uint8Array as "1,2,3".
    return typeof data === 'string' ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  };

  const heldLease = (id: string): { access: LeaseAccess; token: string } | undefined => {
    for (const access of fusedWith) {
      const token = access.heldToken(id);
      if (token !== undefined) return { access, token };
    }
    return undefined;
  };

  /** Interprets UPDATE's reply. */
  const updated = (id: string, reply: unknown): void => {
    if (reply === -1) throw leaseLost(id);
    if (reply === 0) throw new SessionNotFoundError(id);
  };

  const withBackend = async <T>(operation: () => Promise<T>): Promise<T> => {
    try {
      return await operation();
    } catch (error) {
      throw backendError(error);
    }
  };

  /** Every data key under this prefix, once each, from every master of a Cluster. */
  async function* keys(): AsyncGenerator<string[]> {
    const pattern = `${prefix.replace(/[*?[\]\\]/g, '\\$&')}{*}`;
    const nodes = client instanceof Cluster ? client.nodes('master') : [client];
    const seen = new Set<string>();
    for (const node of nodes) {
      let cursor = '0';
      do {
        const [next, batch] = await withBackend(() => node.scan(cursor, 'MATCH', pattern, 'COUNT', SCAN_BATCH));
        cursor = next;
        const fresh = batch.filter((key) => !seen.has(key));
        for (const key of fresh) seen.add(key);
        if (fresh.length > 0) yield fresh;
      } while (cursor !== '0');
    }
  }

  return {
    name: 'redis',
    capabilities: { binary: true, text: true, maxPayloadBytes, updatedAt: true, persistent: true, list: true, purge: true },

    async insert(id, data) {
      const reply = await runScript(client, INSERT, [keyOf(id)], [checked(data), Date.now(), writeId(newToken()), ttlArg]);
      if (reply === 0) throw new SessionExistsError(id);
    },

    async update(id, data) {
      const bytes = checked(data);
      const held = heldLease(id);
      if (!held) return updated(id, await runScript(client, UPDATE, [keyOf(id)], [bytes, Date.now(), writeId(newToken()), ttlArg]));
      const reply = await runScript(client, UPDATE, [keyOf(id), held.access.lockKey(id)], [bytes, Date.now(), writeId(held.token), ttlArg, held.token, '0']);
      updated(id, reply);
    },

    async materialize(id): Promise<StoredSession> {
      const [data, time] = await withBackend(() => client.hmgetBuffer(keyOf(id), 'd', 't'));
      if (!data) throw new SessionNotFoundError(id);
      return { data, updatedAt: Number(time?.toString()) };
    },

    async remove(id) {
      const held = heldLease(id);
      if (!held) {
        await withBackend(() => client.del(keyOf(id)));
        return;
      }
      if ((await runScript(client, REMOVE, [keyOf(id), held.access.lockKey(id)], [held.token])) === -1) throw leaseLost(id);
    },

    async *list(): AsyncIterable<StoredSessionInfo> {
      for await (const batch of keys()) {
        const infos = await withBackend(() => Promise.all(batch.map(async (key) => {
          const [time, size] = await Promise.all([client.hget(key, 't'), client.hstrlen(key, 'd')]);
          return { id: key.slice(prefix.length + 1, -1), updatedAt: Number(time), size, gone: time === null };
        })));
        for (const { gone, ...info } of infos) if (!gone) yield info;
      }
    },

    async purge({ olderThan }) {
      const cutoff = Date.now() - olderThan;
      let removed = 0;
      for await (const batch of keys()) {
        const replies = await Promise.all(batch.map((key) => runScript(client, PURGE_ONE, [key], [cutoff])));
        removed += replies.filter((reply) => reply === 1).length;
      }
      return removed;
    },

    async close() {
      if (owned) await client.quit();
    },

    fuse(locker: Locker): FusedAccess | undefined {
      const access = (locker as Partial<RedisLocker>)[leaseAccess];
      // Fused scripts run on this store's client: only sound when the locker's leases live on the same server.
      if (!access || !(access.client === client || (url !== undefined && access.url === url))) return undefined;
      fusedWith.add(access);
      return {
        ...separateAccess(this, locker),
        async lockAndMaterialize(id, mode, acquireOptions) {
          const { lock, value } = await access.acquireWith(id, mode, acquireOptions, async (token) => {
            const reply = (await runScript(client, LOCK_AND_READ, [keyOf(id), access.lockKey(id)], [token, access.lease])) as [number, Buffer?, Buffer?];
            return reply[0] === 0 ? undefined : { held: reply[0] === 1, value: reply };
          });
          if (!lock) throw new SessionNotFoundError(id);
          return { lock, stored: { data: value[1]!, updatedAt: Number(value[2]?.toString()) } };
        },

        async lockAndInsert(id, data, acquireOptions) {
          const bytes = checked(data);
          const now = Date.now();
          const { lock } = await access.acquireWith(id, 'write', acquireOptions, async (token) => {
            const reply = await runScript(client, LOCK_AND_INSERT, [keyOf(id), access.lockKey(id)], [token, access.lease, bytes, now, writeId(token), ttlArg]);
            return { held: reply === 1, value: undefined };
          });
          if (!lock) throw new SessionExistsError(id);
          return lock;
        },

        async updateAndRelease(lock, id, data) {
          if (data === undefined) return lock.release();
          let bytes: string | Buffer;
          try {
            bytes = checked(data);
          } catch (error) {
            await lock.release();
            throw error;
          }
          const reply = await access.settle(lock, (token) =>
            runScript(client, UPDATE, [keyOf(id), access.lockKey(id)], [bytes, Date.now(), writeId(token), ttlArg, token, '1']));
          updated(id, reply);
        },
      };
    },
  };
}
