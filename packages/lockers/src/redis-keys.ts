/**
 * What `redisLocker` and `redisStore` (@tied/stores/redis) share: the key layout, the Lua that takes
 * a lease, running scripts, and the errors of the Redis backend.
 */
import { createHash, randomUUID } from 'node:crypto';
import { Redis, type Cluster } from 'ioredis';
import { BackendError, LockLostError, TiedError } from '@tied/core';

/** An ioredis client: a single server (or Sentinel) connection, or a Cluster. */
export type RedisClient = Redis | Cluster;

/** How a part gets its connection: the caller's client, or a URL it connects to itself. */
export interface RedisConnectionOptions {
  /** A client you already have; the part uses it as is and never closes it. */
  client?: RedisClient;
  /** `redis://[user:password@]host[:port][/db]`: the part makes its own client, and `close()` quits it. */
  url?: string;
}

/**
 * The `LockLostError` of a write refused because the lease it relied on had run out (the holder
 * stalled longer than the lease, and someone else may hold the lock now): nothing was written.
 */
export function leaseLost(sessionId: string): LockLostError {
  return new LockLostError(sessionId, `The lease on the lock of session ${sessionId} ran out before this write; nothing was written`);
}

export function connectionOf(options: RedisConnectionOptions, part: string): { client: RedisClient; url: string | undefined; owned: boolean } {
  if (options.client && options.url) throw new TypeError(`${part}: give either client or url, not both`);
  if (options.client) {
    // ioredis prefixes command keys but not SCAN patterns or replies, so `list` would find nothing.
    if ('keyPrefix' in options.client.options && options.client.options.keyPrefix) {
      throw new TypeError(`${part}: the client has keyPrefix "${options.client.options.keyPrefix}"; use the part's prefix option instead`);
    }
    return { client: options.client, url: undefined, owned: false };
  }
  if (typeof options.url === 'string') return { client: new Redis(options.url, { lazyConnect: true }), url: options.url, owned: true };
  throw new TypeError(`${part} needs a client (an ioredis Redis or Cluster) or a url`);
}

/** Every key tied writes is `<prefix>...{<id>}`; prefixes must not contain a hash tag of their own. */
export function checkPrefix(prefix: unknown, part: string): string {
  if (typeof prefix !== 'string' || /[{}]/.test(prefix)) {
    throw new TypeError(`${part}: prefix must be a string without { or }, got ${JSON.stringify(prefix)}`);
  }
  return prefix;
}

/**
 * A session's data key. Only the id is inside the hash tag, so the data key and the lock key of one
 * session are in the same Redis Cluster slot whatever the two prefixes are, and one script may
 * touch both.
 */
export const dataKey = (prefix: string, id: string): string => `${prefix}{${id}}`;
export const lockKey = (prefix: string, id: string): string => `${prefix}lock:{${id}}`;

/** A random lease token: who holds a lock (randomUUID draws from a cached pool: cheaper than randomBytes per lock). */
export const newToken = (): string => randomUUID();

/**
 * Lua: take the lease `key` for `token` for `lease` ms — `SET NX PX`, or when this very token holds it
 * already (a command resent by ioredis after a reconnect), extend it. True when it is ours.
 */
export const TAKE_LEASE_LUA = `
local function take_lease(key, token, lease)
  if redis.call('SET', key, token, 'NX', 'PX', lease) then return true end
  if redis.call('GET', key) == token then
    redis.call('PEXPIRE', key, lease)
    return true
  end
  return false
end
`;

export interface Script {
  readonly source: string;
  readonly sha: string;
}

export function script(source: string): Script {
  return { source, sha: createHash('sha1').update(source).digest('hex') };
}

/**
 * Runs a script by its SHA (one round trip); the first time a server sees it (NOSCRIPT) it is sent
 * whole. Bulk replies come back as Buffers. Errors from Redis become `BackendError`.
 */
export async function runScript(client: RedisClient, { source, sha }: Script, keys: string[], args: (string | number | Buffer)[]): Promise<unknown> {
  try {
    try {
      return await client.callBuffer('EVALSHA', sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      return await client.callBuffer('EVAL', source, keys.length, ...keys, ...args);
    }
  } catch (error) {
    throw backendError(error);
  }
}

/** Wraps a driver failure in `BackendError`; tied's own errors pass through. */
export function backendError(error: unknown): TiedError {
  if (error instanceof TiedError) return error;
  return new BackendError(`Redis failed: ${(error as Error).message}`, { cause: error });
}
