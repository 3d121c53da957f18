import { LockTimeoutError, abortReason, memoryLocker, type AcquireOptions, type Lock, type LockMode, type Locker } from '@tied/core';
import {
  TAKE_LEASE_LUA,
  checkPrefix,
  connectionOf,
  lockKey,
  newToken,
  runScript,
  script,
  type RedisClient,
  type RedisConnectionOptions,
} from './redis-keys.js';

export { BackendError } from '@tied/core';
export { type RedisClient, type RedisConnectionOptions } from './redis-keys.js';
export { LockLostError } from '@tied/core';
/** The key layout and Lua that @tied/stores/redis shares with this locker (not a stable API). */
export * as redisKeys from './redis-keys.js';

export interface RedisLockerOptions extends RedisConnectionOptions {
  /** Put before every lock key: `<prefix>lock:{<id>}`. Default `tied:`. */
  prefix?: string;
  /**
   * How long a lock outlives a holder that stops renewing it (a crash, a kill), in ms. Default
   * 10,000. A live holder renews it every lease/3.
   */
  lease?: number;
}

/** How `redisStore` (same backend) fuses its reads and writes into this locker's round trips. */
export const leaseAccess = Symbol.for('tied.redisLocker.leaseAccess');

/**
 * One round trip that tries to take the lease with `token` and does more: `undefined` when the lock
 * is busy (wait and try again), else whether the lease is held now and what the round trip returned.
 */
export type LeaseAttempt<T> = (token: string) => Promise<{ held: boolean; value: T } | undefined>;

export interface LeaseAccess {
  readonly client: RedisClient;
  /** The url the client was made from (undefined for a client given): parts made from one url share a server. */
  readonly url: string | undefined;
  readonly lease: number;
  lockKey(id: string): string;
  /** Waits for the lock as `acquire` does, each try being `attempt`. `lock` is set when the lease is held. */
  acquireWith<T>(id: string, mode: LockMode, options: AcquireOptions, attempt: LeaseAttempt<T>): Promise<{ lock?: Lock; value: T }>;
  /** Ends a held lock with `finish(token)`, one round trip that deletes the lease itself. */
  settle<T>(lock: Lock, finish: (token: string) => Promise<T>): Promise<T>;
  /** The token of the lease this locker holds on `id` in this process, if it holds one. */
  heldToken(id: string): string | undefined;
}

export interface RedisLocker extends Locker {
  readonly [leaseAccess]: LeaseAccess;
}

const ACQUIRE = script(`${TAKE_LEASE_LUA}
return take_lease(KEYS[1], ARGV[1], ARGV[2]) and 1 or 0`);

/** Compare-and-delete: only the holder's token removes the lease. */
const RELEASE = script(`if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`);

const RENEW = script(`if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`);

/** Polling for a busy lock: the first retry after 2 ms, doubling up to 50 ms, with jitter. */
const FIRST_RETRY = 2;
const LAST_RETRY = 50;

interface Held {
  readonly token: string;
  readonly timer: NodeJS.Timeout;
  /** This process's turn for the id (see `turns`). */
  readonly turn: Lock;
  ended: boolean;
}

/**
 * Locks as leases in Redis: `SET <prefix>lock:{<id>} <token> NX PX <lease>`, renewed while held,
 * released by compare-and-delete. Every lock is exclusive (`sharedReads: false`, like Perl's
 * Lock::MySQL): a read lock in a session store is held for milliseconds, and shared leases would
 * cost a round trip more per cycle. A waiter polls with backoff; inside one process, waiters for one
 * id queue first come, first served and only the head polls Redis.
 */
export function redisLocker(options: RedisLockerOptions): RedisLocker {
  const prefix = checkPrefix(options.prefix ?? 'tied:', 'redisLocker');
  const lease = options.lease ?? 10_000;
  if (!Number.isInteger(lease) || lease < 100) throw new RangeError(`redisLocker: lease must be an integer of at least 100 ms, got ${lease}`);
  const { client, url, owned } = connectionOf(options, 'redisLocker');
  const keyOf = (id: string) => lockKey(prefix, id);
  const turns = memoryLocker();
  const heldById = new Map<string, Held>();
  const heldByLock = new WeakMap<Lock, Held>();

  function hold(id: string, mode: LockMode, token: string, turn: Lock): Lock {
    const renew = async () => {
      try {
        if ((await runScript(client, RENEW, [keyOf(id)], [token, lease])) === 0) clearInterval(held.timer);
      } catch {
        // Retried at the next tick; the lease outlasts two missed renewals.
      }
    };
    const held: Held = { token, turn, ended: false, timer: setInterval(renew, Math.floor(lease / 3)).unref() };
    const lock: Lock = {
      id,
      mode,
      release: async () => {
        if (held.ended) return;
        await settle(lock, (t) => runScript(client, RELEASE, [keyOf(id)], [t]));
      },
    };
    heldById.set(id, held);
    heldByLock.set(lock, held);
    return lock;
  }

  async function settle<T>(lock: Lock, finish: (token: string) => Promise<T>): Promise<T> {
    const held = heldByLock.get(lock);
    if (!held || held.ended) throw new TypeError(`This lock of session ${lock.id} is not held by this redisLocker`);
    held.ended = true;
    clearInterval(held.timer);
    heldById.delete(lock.id);
    try {
      return await finish(held.token);
    } finally {
      await held.turn.release();
    }
  }

  async function acquireWith<T>(id: string, mode: LockMode, options: AcquireOptions, attempt: LeaseAttempt<T>): Promise<{ lock?: Lock; value: T }> {
    const { timeout, signal } = options;
    const deadline = timeout === undefined ? Infinity : Date.now() + timeout;
    const turn = await turns.acquire(id, 'write', options);
    try {
      const token = newToken();
      for (let retry = FIRST_RETRY; ; retry = Math.min(retry * 2, LAST_RETRY)) {
        signal?.throwIfAborted();
        const result = await attempt(token);
        if (result?.held) return { lock: hold(id, mode, token, turn), value: result.value };
        if (result) {
          await turn.release();
          return { value: result.value };
        }
        const left = deadline - Date.now();
        if (left <= 0) throw new LockTimeoutError(id, timeout!);
        await sleep(Math.min(left, retry * (0.5 + Math.random() / 2)), signal);
      }
    } catch (error) {
      await turn.release();
      throw error;
    }
  }

  const access: LeaseAccess = {
    client,
    url,
    lease,
    lockKey: keyOf,
    acquireWith,
    settle,
    heldToken: (id) => heldById.get(id)?.token,
  };

  return {
    name: 'redis',
    capabilities: { sharedReads: false, crossProcess: true, excludes: true },
    [leaseAccess]: access,
    async acquire(id, mode, acquireOptions = {}) {
      const { lock } = await acquireWith(id, mode, acquireOptions, async (token) => {
        const taken = (await runScript(client, ACQUIRE, [keyOf(id)], [token, lease])) === 1;
        return taken ? { held: true, value: undefined } : undefined;
      });
      return lock!;
    },
    async close() {
      for (const held of heldById.values()) clearInterval(held.timer);
      if (owned) await client.quit();
    },
  };
}

/** Waits `ms`; an abort rejects with the signal's reason. */
function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortReason(signal!));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
