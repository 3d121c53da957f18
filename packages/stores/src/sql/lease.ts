/**
 * The lease locks of tied's MySQL and PostgreSQL backends. A lock is a row of a lease table — `id`,
 * `token`, `expires_at` on the SERVER's clock — taken by one statement on a pooled connection that goes
 * back to the pool at once: a held session holds no connection, so a pool of 10 serves any number of
 * held sessions. The backends differ only in their SQL (`LeaseSql`).
 *
 * Invariants kept here:
 * - a lease is taken only when it is free, expired, or this very token's (a statement sent twice);
 * - every lock has a token of its own, and every write under it is fenced by that token in the same
 *   statement or transaction as the write (see lease-access.ts): a holder whose lease was taken over
 *   writes nothing;
 * - one timer per locker renews every lease it holds in one batched statement every lease/3; a lease
 *   found gone marks its lock lost (`held` false, later writes `LockLostError` without a round trip);
 * - inside one process, waiters for one id queue first come, first served, and only the head polls the
 *   server (with backoff); every failure after a lease may have been taken deletes it again.
 */
import { createHash, randomBytes } from 'node:crypto';
import { BackendError, LockLostError, LockTimeoutError, abortReason, memoryLocker, type AcquireOptions, type Lock, type LockMode, type Locker } from '@tied/core';
import { renewals } from '../renewals.js';
import { sleep } from '../sleep.js';
import { checkout, waitOf, type SqlDriver, type Wait } from './held.js';

/** The statements of one lease table, as a dialect writes them. Ids and tokens are given as they are. */
export interface LeaseSql {
  /** The lease table as given, for messages. */
  readonly table: string;
  /** The lease table as SQL. */
  readonly quoted: string;
  /** Creates the lease table unless it exists. */
  readonly createTable: readonly string[];
  /** Takes the lease of `id` for `token` (free, expired, or this token's already) for `leaseMs`. */
  take(id: string, token: string, leaseMs: number): string;
  /** One row whose `held` says whether `token` holds the lease of `id`; none when nobody does. */
  held(id: string, token: string): string;
  /** Compare-and-delete: the lease of `id`, if `token` still holds it. */
  release(id: string, token: string): string;
  /** Extends the leases these tokens still hold; `renewed` reads which tokens those were. */
  renew(leases: readonly { readonly id: string; readonly token: string }[], leaseMs: number): string[];
  renewed(results: readonly unknown[]): Set<string>;
  /** Deletes every expired lease. */
  readonly clean: string;
  /** The server's "no such table" for the lease table. */
  isMissingTable(error: unknown): boolean;
  /** After a statement the server refused: what leaves the connection in no transaction. */
  readonly afterError: readonly string[];
}

/** What the lease module needs of a backend. */
export interface LeaseBackend<C> {
  readonly driver: SqlDriver<C>;
  readonly sql: LeaseSql;
  /** The rows of a statement's result; the rows a write matched. */
  rows(result: unknown): Record<string, unknown>[];
  count(result: unknown): number;
  /** The part's name in messages: 'mysqlLeaseLocker'. */
  readonly part: string;
  /** The locker's name (`Locker.name`). */
  readonly name: string;
  /** Ends the pool when tied made it. */
  close(): Promise<void>;
}

export interface LeaseOptions {
  /**
   * How long a lock outlives a holder that stops renewing it (a crash, a kill, a frozen process), in
   * ms. Default 10,000. A live holder renews it every lease/3.
   */
  lease?: number;
}

/** A lease locker: the Locker role, its table, and the cleaning of expired leases. */
export interface SqlLeaseLocker extends Locker {
  /** The lease table as given. */
  readonly table: string;
  /** Creates the lease table, unless it exists. */
  createTable(): Promise<void>;
  /** Deletes the expired leases (a crashed holder's, never taken again); returns how many. `Flavor.purge` calls it. */
  clean(options?: { olderThan?: number }): Promise<number>;
}

/** One round trip that tries to take the lease with `token`: undefined when it is busy (wait and try again), else whether it is held now and what the round trip returned. */
export type LeaseAttempt<T> = (token: string, wait: Wait) => Promise<{ held: boolean; value: T } | undefined>;

/** What a store of the same backend needs of a lease locker to fuse with it. */
export interface Leases {
  readonly driver: SqlDriver<unknown>;
  readonly sql: LeaseSql;
  readonly lease: number;
  rows(result: unknown): Record<string, unknown>[];
  count(result: unknown): number;
  /** Runs statements on a pooled connection, given back at once. */
  run(statements: readonly string[], wait?: Wait): Promise<unknown[]>;
  /** Waits for the lock as `acquire` does, each try being `attempt`; `lock` is set when the lease is held. */
  acquireWith<T>(id: string, mode: LockMode, options: AcquireOptions, attempt: LeaseAttempt<T>): Promise<{ lock?: Lock; value: T }>;
  /** The token of a lock still held, for a fenced write; `LockLostError` once it was released or found lost. */
  tokenOf(lock: Lock): string;
  /**
   * Ends a held lock with `finish(token)`, one round trip that deletes the lease itself; a lock found
   * lost is `LockLostError` without a round trip. When `finish` fails, a compare-and-delete follows.
   */
  settle<T>(lock: Lock, finish: (token: string) => Promise<T>): Promise<T>;
  /** Marks a lock lost: the server refused a fenced write under it. */
  lose(lock: Lock): void;
}

const leasesOfLocker = new WeakMap<Locker, Leases>();

/** The leases of a lease locker (module-private to the SQL backends), for `sqlStore`'s `fuse`. */
export function leasesOf(locker: Locker): Leases | undefined {
  return leasesOfLocker.get(locker);
}

/** The `LockLostError` of a write refused because its lease was gone: nothing was written. */
export function leaseLost(id: string, what = 'this write', nothing = 'nothing was written'): LockLostError {
  return new LockLostError(id, `The lease on the lock of session ${id} ran out before ${what} (someone else may hold it now); ${nothing}`);
}

/** Polling a busy lease: the first retry after 1 ms, doubling up to 32 ms, with jitter. */
const FIRST_RETRY = 1;
const LAST_RETRY = 32;
/** Leases renewed by one statement. */
const RENEW_BATCH = 500;
const NO_WAIT: Wait = { id: '', timeout: undefined, deadline: undefined, signal: undefined };

/** The key of an id in a lease table: the id, or a hash of an id too long for the key column. */
export const leaseKey = (id: string): string => (Buffer.byteLength(id) <= 200 ? id : `sha1:${createHash('sha1').update(id).digest('hex')}`);

const newToken = (): string => randomBytes(16).toString('base64url');

interface Held {
  readonly id: string;
  readonly token: string;
  /** This process's turn for the id. */
  readonly turn: Lock;
  ended: boolean;
  /** The renewal found the lease gone (expired and taken, or deleted). */
  lost: boolean;
}

/**
 * Runs statements on a pooled connection and gives it back. A connection found dead before anything
 * was sent is replaced once; a connection lost during the statements is `BackendError` (they may or
 * may not have run).
 */
async function runOnPool<C>(driver: SqlDriver<C>, statements: readonly string[], wait: Wait, afterError: readonly string[]): Promise<unknown[]> {
  for (let tries = 1; ; tries++) {
    const connection = await checkout(driver, wait);
    let died: Error | undefined;
    const stopListening = driver.listen(connection, (error) => {
      died ??= error;
    });
    try {
      const results = await driver.run(connection, statements);
      stopListening();
      driver.giveBack(connection);
      return results;
    } catch (error) {
      if (!driver.isFatal(error) && !died) {
        // A statement the server refused stops the ones after it: a transaction they would have committed is ended here.
        const clean = afterError.length === 0 || await driver.run(connection, afterError).then(() => true, () => false);
        stopListening();
        if (clean) driver.giveBack(connection);
        else driver.destroy(connection, error as Error);
        throw error;
      }
      // The listener stays on the closed connection: its late errors are not the process's to crash on.
      driver.destroy(connection, error as Error);
      if (tries === 1 && driver.wasNotSent?.(error)) continue;
      throw new BackendError(`The ${driver.server} connection was lost during a statement of the lease table (${(error as Error).message}); it may or may not have run`, { cause: error });
    }
  }
}

/** A lease locker over `backend`'s pool and lease table. */
export function leaseLocker<C>(backend: LeaseBackend<C>, options: LeaseOptions): SqlLeaseLocker {
  const lease = options.lease ?? 10_000;
  if (!Number.isInteger(lease) || lease < 100) throw new RangeError(`${backend.part}: lease must be an integer of at least 100 ms, got ${lease}`);
  const { driver, sql } = backend;
  const turns = memoryLocker();
  const heldByLock = new WeakMap<Lock, Held>();
  const renewed = renewals<Held>(lease, () => void renewAll());
  let renewing = false;

  const missingTable = (error: unknown): unknown => sql.isMissingTable(error)
    ? new Error(`${backend.part}: the lease table ${sql.table} does not exist; create it with locker.createTable() (or createTable: true on MySQLSession/PostgresSession)`, { cause: error })
    : error;

  async function run(statements: readonly string[], wait: Wait = NO_WAIT): Promise<unknown[]> {
    try {
      return await runOnPool(driver, statements, wait, sql.afterError);
    } catch (error) {
      throw missingTable(error);
    }
  }

  const releaseToken = (id: string, token: string): Promise<unknown> => run([sql.release(id, token)]);

  async function renewAll(): Promise<void> {
    if (renewing) return;
    renewing = true;
    try {
      const all = [...renewed.held];
      for (let start = 0; start < all.length; start += RENEW_BATCH) {
        const batch = all.slice(start, start + RENEW_BATCH);
        const alive = sql.renewed(await run(sql.renew(batch, lease)));
        for (const held of batch) {
          if (!held.ended && !alive.has(held.token)) {
            held.lost = true;
            renewed.stop(held);
          }
        }
      }
    } catch {
      // Tried again at the next tick; a lease outlasts two missed renewals.
    } finally {
      renewing = false;
    }
  }

  function hold(id: string, mode: LockMode, token: string, turn: Lock): Lock {
    const held: Held = { id, token, turn, ended: false, lost: false };
    const lock: Lock = {
      id,
      mode,
      get held() {
        return !held.ended && !held.lost;
      },
      async release() {
        if (held.ended) return;
        if (held.lost) {
          // Nothing to write, and the lease is gone already: released all the same.
          held.ended = true;
          renewed.stop(held);
          await turn.release();
          return;
        }
        await settle(lock, (t) => releaseToken(id, t));
      },
    };
    heldByLock.set(lock, held);
    renewed.start(held);
    return lock;
  }

  function heldOf(lock: Lock): Held {
    const held = heldByLock.get(lock);
    if (!held) throw new TypeError(`This lock of session ${lock.id} is not one of this ${backend.part}'s`);
    if (held.ended) throw new LockLostError(lock.id, `The lock of session ${lock.id} was released before this write; nothing was written`);
    if (held.lost) throw leaseLost(lock.id);
    return held;
  }

  async function settle<T>(lock: Lock, finish: (token: string) => Promise<T>): Promise<T> {
    const held = heldByLock.get(lock);
    if (held && !held.ended && held.lost) {
      held.ended = true;
      renewed.stop(held);
      await held.turn.release();
      throw leaseLost(lock.id);
    }
    const live = heldOf(lock);
    live.ended = true;
    renewed.stop(live);
    try {
      return await finish(live.token);
    } catch (error) {
      await releaseToken(live.id, live.token).catch(() => {});
      throw error;
    } finally {
      await live.turn.release();
    }
  }

  /** One attempt; an abort rejects at once, and a lease the attempt took meanwhile is given back. */
  function attemptOnce<T>(id: string, token: string, wait: Wait, attempt: LeaseAttempt<T>): ReturnType<LeaseAttempt<T>> {
    const attempting = attempt(token, wait).catch(async (error: unknown) => {
      // The attempt may have taken the lease before it failed (an insert of an id that exists).
      await releaseToken(id, token).catch(() => {});
      throw missingTable(error);
    });
    const { signal } = wait;
    if (!signal) return attempting;
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        reject(abortReason(signal));
        attempting.then((result) => (result?.held ? releaseToken(id, token) : undefined)).catch(() => {});
      };
      signal.addEventListener('abort', onAbort, { once: true });
      attempting.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
    });
  }

  async function acquireWith<T>(id: string, mode: LockMode, acquireOptions: AcquireOptions, attempt: LeaseAttempt<T>): Promise<{ lock?: Lock; value: T }> {
    const { signal } = acquireOptions;
    if (signal?.aborted) throw abortReason(signal);
    const wait = waitOf(id, acquireOptions);
    const turn = await turns.acquire(id, 'write', acquireOptions);
    try {
      const token = newToken();
      for (let retry = FIRST_RETRY; ; retry = Math.min(retry * 2, LAST_RETRY)) {
        if (signal?.aborted) throw abortReason(signal);
        const result = await attemptOnce(id, token, wait, attempt);
        if (result?.held) return { lock: hold(id, mode, token, turn), value: result.value };
        if (result) {
          await turn.release();
          return { value: result.value };
        }
        const left = wait.deadline === undefined ? Infinity : wait.deadline - Date.now();
        if (left <= 0) throw new LockTimeoutError(id, wait.timeout!);
        await sleep(Math.min(left, retry * (0.5 + Math.random() / 2)), signal);
      }
    } catch (error) {
      await turn.release();
      throw error;
    }
  }

  const isHeld = (results: readonly unknown[], index: number): boolean => {
    const value = backend.rows(results[index])[0]?.held;
    return value === true || Number(value) === 1;
  };

  const locker: SqlLeaseLocker = {
    name: backend.name,
    table: sql.table,
    capabilities: { sharedReads: false, crossProcess: true, excludes: true },
    async acquire(id, mode, acquireOptions = {}) {
      const { lock } = await acquireWith(id, mode, acquireOptions, async (token, wait) => {
        const results = await run([sql.take(id, token, lease), sql.held(id, token)], wait);
        return isHeld(results, 1) ? { held: true, value: undefined } : undefined;
      });
      return lock!;
    },
    async createTable() {
      await run(sql.createTable);
    },
    async clean() {
      return backend.count((await run([sql.clean]))[0]);
    },
    async close() {
      renewed.clear();
      await backend.close();
    },
  };
  leasesOfLocker.set(locker, {
    driver: driver as SqlDriver<unknown>,
    sql,
    lease,
    rows: backend.rows,
    count: backend.count,
    run,
    acquireWith,
    settle,
    tokenOf: (lock) => heldOf(lock).token,
    lose(lock) {
      const held = heldByLock.get(lock);
      if (held && !held.ended) {
        held.lost = true;
        renewed.stop(held);
      }
    },
  });
  return locker;
}
