import { LockLostError, LockTimeoutError, memoryLocker, type AcquireOptions, type Lock, type LockMode, type Locker } from '@tied/core';
import { renewals } from '../renewals.js';
import { sleep } from '../sleep.js';
import { checkOptions, connect, type Connection, type RedisConnectionOptions } from './connection.js';
import { checkPrefix, lockKey, newToken } from './keys.js';
import { ACQUIRE, RELEASE, RENEW } from './scripts.js';

export interface RedisLockerOptions extends RedisConnectionOptions {
  /** Put before every lock key: `<prefix>lock:{<id>}`. Default `tied:`. */
  prefix?: string;
  /**
   * How long a lock outlives a holder that stops renewing it (a crash, a kill), in ms. Default
   * 10,000. A live holder renews it every lease/3.
   */
  lease?: number;
}

/**
 * One round trip that tries to take the lease with `token` and does more: `undefined` when the lock
 * is busy (wait and try again), else whether the lease is held now and what the round trip returned.
 */
export type LeaseAttempt<T> = (token: string) => Promise<{ held: boolean; value: T } | undefined>;

/** What `redisStore` (this folder) needs of a `redisLocker` to fuse its calls into the locker's leases. */
export interface Leases {
  readonly connection: Connection;
  readonly lease: number;
  lockKey(id: string): string;
  /** Waits for the lock as `acquire` does, each try being `attempt`. `lock` is set when the lease is held. */
  acquireWith<T>(id: string, mode: LockMode, options: AcquireOptions, attempt: LeaseAttempt<T>): Promise<{ lock?: Lock; value: T }>;
  /** The token of a lock this locker holds, for a write fenced by it (`LockLostError` once it was released). */
  tokenOf(lock: Lock): string;
  /**
   * Ends a held lock with `finish(token)`, one round trip that releases the lease itself. When that
   * round trip fails, a compare-and-delete follows at once (the lease is freed unless the server is
   * unreachable, and then its lease runs out).
   */
  settle<T>(lock: Lock, finish: (token: string) => Promise<T>): Promise<T>;
}

/** The leases behind every `redisLocker`: module-private, so only this backend's store can fuse with one. */
const leasesOfLocker = new WeakMap<Locker, Leases>();

export function leasesOf(locker: Locker): Leases | undefined {
  return leasesOfLocker.get(locker);
}

/** Polling for a busy lock: the first retry after 2 ms, doubling up to 50 ms, with jitter. */
const FIRST_RETRY = 2;
const LAST_RETRY = 50;

interface Held {
  readonly id: string;
  readonly token: string;
  /** This process's turn for the id (see `turns`). */
  readonly turn: Lock;
  ended: boolean;
  renewing: boolean;
}

/**
 * Locks as leases in Redis: `SET <prefix>lock:{<id>} <token> NX PX <lease>`, renewed while held,
 * released by compare-and-delete. Every lock is exclusive (`sharedReads: false`, like Perl's
 * Lock::MySQL): a read lock in a session store is held for milliseconds, and shared leases would
 * cost a round trip more per cycle. A waiter polls with backoff; inside one process, waiters for one
 * id queue first come, first served and only the head polls Redis. One timer per locker renews every
 * lease it holds (unref'd: it never keeps a process alive).
 */
export function redisLocker(options: RedisLockerOptions): Locker {
  checkOptions(options, 'redisLocker', ['client', 'url', 'prefix', 'lease']);
  const prefix = checkPrefix(options.prefix ?? 'tied:', 'redisLocker');
  const lease = options.lease ?? 10_000;
  if (!Number.isInteger(lease) || lease < 100) throw new RangeError(`redisLocker: lease must be an integer of at least 100 ms, got ${lease}`);
  const connection = connect(options, 'redisLocker');
  const keyOf = (id: string) => lockKey(prefix, id);
  const turns = memoryLocker();
  const heldByLock = new WeakMap<Lock, Held>();
  const renewed = renewals<Held>(lease, (held) => { for (const each of held) void renew(each); });

  async function renew(held: Held): Promise<void> {
    if (held.renewing) return;
    held.renewing = true;
    try {
      if ((await connection.run(RENEW, [keyOf(held.id)], [held.token, lease])) === 0) renewed.stop(held);
    } catch {
      // Tried again at the next tick; the lease outlasts two missed renewals.
    } finally {
      held.renewing = false;
    }
  }

  function hold(id: string, mode: LockMode, token: string, turn: Lock): Lock {
    const held: Held = { id, token, turn, ended: false, renewing: false };
    const lock: Lock = {
      id,
      mode,
      release: async () => {
        if (held.ended) return;
        await settle(lock, (t) => connection.run(RELEASE, [keyOf(id)], [t]));
      },
    };
    heldByLock.set(lock, held);
    renewed.start(held);
    return lock;
  }

  /** The lease of a lock of this locker that is still held; a released one is a lost lock (nothing is written under it). */
  function heldOf(lock: Lock): Held {
    const held = heldByLock.get(lock);
    if (!held) throw new TypeError(`This lock of session ${lock.id} is not one of this redisLocker's`);
    if (held.ended) throw new LockLostError(lock.id, `The lock of session ${lock.id} was released before this write; nothing was written`);
    return held;
  }

  async function settle<T>(lock: Lock, finish: (token: string) => Promise<T>): Promise<T> {
    const held = heldOf(lock);
    held.ended = true;
    renewed.stop(held);
    try {
      return await finish(held.token);
    } catch (error) {
      await connection.run(RELEASE, [keyOf(held.id)], [held.token]).catch(() => {});
      throw error;
    } finally {
      await held.turn.release();
    }
  }

  async function acquireWith<T>(id: string, mode: LockMode, acquireOptions: AcquireOptions, attempt: LeaseAttempt<T>): Promise<{ lock?: Lock; value: T }> {
    const { timeout, signal } = acquireOptions;
    const deadline = timeout === undefined ? Infinity : Date.now() + timeout;
    const turn = await turns.acquire(id, 'write', acquireOptions);
    try {
      const token = newToken();
      for (let retry = FIRST_RETRY; ; retry = Math.min(retry * 2, LAST_RETRY)) {
        signal?.throwIfAborted();
        let result: Awaited<ReturnType<LeaseAttempt<T>>>;
        try {
          result = await attempt(token);
        } catch (error) {
          // The attempt may have taken the lease before it failed (a write its replicas did not confirm).
          await connection.run(RELEASE, [keyOf(id)], [token]).catch(() => {});
          throw error;
        }
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

  const locker: Locker = {
    name: 'redis',
    capabilities: { sharedReads: false, crossProcess: true, excludes: true },
    async acquire(id, mode, acquireOptions = {}) {
      const { lock } = await acquireWith(id, mode, acquireOptions, async (token) => {
        const taken = (await connection.run(ACQUIRE, [keyOf(id)], [token, lease])) === 1;
        return taken ? { held: true, value: undefined } : undefined;
      });
      return lock!;
    },
    async close() {
      renewed.clear();
      await connection.close();
    },
  };
  leasesOfLocker.set(locker, { connection, lease, lockKey: keyOf, acquireWith, settle, tokenOf: (lock) => heldOf(lock).token });
  return locker;
}
