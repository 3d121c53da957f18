/**
 * The one held-SQL-lock module of tied's MySQL and PostgreSQL backends. A held lock is a pooled
 * connection kept from acquire to release; every statement of the locked session runs on it — the
 * read with the lock, each write, and the write with the release — so no write of a locked session
 * ever happens outside its lock, and none needs a second connection. The backends differ only in
 * their driver (`SqlDriver`) and their statements (`HoldStatements`).
 *
 * Invariants kept here:
 * - an 'error' listener is on every connection from checkout to its end (an administrator killing it
 *   never crashes the process);
 * - once the connection is known lost, nothing more is sent on it, and every later write of the
 *   session fails with `LockLostError`, saying "nothing was written" only when that is so;
 * - the statements of one lock run in the order they were called (an un-awaited save() before
 *   release() still writes first, under the lock);
 * - every failure after the lock may have been taken leaves no lock: rolled back and released on the
 *   connection, or the connection closed (the server then frees the lock with it).
 */
import { BackendError, LockLostError, LockTimeoutError, PoolTimeoutError, abortReason, type AcquireOptions, type Lock, type LockMode } from '@tied/core';
import { connectionsHeld, holdEnded, holdStarted } from './pools.js';

/** What the held-lock module needs of a driver: one pool and its connections. */
export interface SqlDriver<C> {
  /** 'MySQL' or 'PostgreSQL', for messages. */
  readonly server: string;
  /** The pool, by identity: what a PoolTimeoutError counts held connections of. */
  readonly pool: object;
  /** The pool as named in messages. */
  readonly poolName: string;
  poolSize(): number | undefined;
  /** The pool was ended (pool.end()). */
  poolEnded(): boolean;
  connect(): Promise<C>;
  /** Back to the pool: a live connection holding no lock and no transaction. */
  giveBack(connection: C): void;
  /** Closed: the server frees whatever it held. */
  destroy(connection: C, cause: Error): void;
  /** Adds an 'error' listener; returns its removal. */
  listen(connection: C, onError: (error: Error) => void): () => void;
  /** Runs the statements on the connection, in one round trip when the driver can; a result per statement. */
  run(connection: C, statements: readonly string[]): Promise<unknown[]>;
  /** Stops the statement running on the connection, over a connection of its own. */
  cancel(connection: C): Promise<void>;
  /** The error leaves the connection unusable (lost, killed, protocol). */
  isFatal(error: unknown): boolean;
  /** The error is the server's lock wait timing out. */
  isLockTimeout(error: unknown): boolean;
  /** The driver refused the statements without sending them (a closed connection). */
  wasNotSent?(error: unknown): boolean;
}

/** The statements that take, keep and end one lock. */
export interface HoldStatements {
  /** Take the lock (waiting at most `waitMs`, undefined: no limit); `granted` reads their results. */
  take(waitMs: number | undefined): { statements: readonly string[]; granted?: (results: readonly unknown[]) => boolean | null };
  /** After a write that keeps the lock: makes the write durable and visible, the lock still held. */
  readonly keep: readonly string[];
  /**
   * Sent before the writes of each round trip that ends in `keep`, for a lock that would not outlive
   * that commit by itself (PostgreSQL's transaction-scoped advisory lock); called as it is sent.
   */
  keepBefore?(): readonly string[];
  /** Ends the hold (after the last write, in the same round trip). */
  readonly release: readonly string[];
  /** After a failed statement: leaves the connection with no lock and no transaction. */
  readonly abandon: readonly string[];
  /** After a failed write that keeps the lock; undefined: a failed write loses the lock (it is then released). */
  readonly recover?: readonly string[];
}

type State = 'held' | 'released' | 'lost';

interface Held<C> {
  readonly driver: SqlDriver<C>;
  readonly connection: C;
  readonly id: string;
  readonly statements: HoldStatements;
  state: State;
  /** Set by the 'error' listener: the connection died; the server has let go of the lock. */
  died: Error | undefined;
  readonly stopListening: () => void;
  /** The statements of this lock, in call order. */
  queue: Promise<unknown>;
}

const heldLocks = new WeakMap<Lock, Held<unknown>>();

/** How long a lock may be waited for: the caller's timeout as a deadline, and its signal. */
export interface Wait {
  readonly id: string;
  readonly timeout: number | undefined;
  readonly deadline: number | undefined;
  readonly signal: AbortSignal | undefined;
}

export function waitOf(id: string, { timeout, signal }: AcquireOptions): Wait {
  if (timeout !== undefined && !(timeout >= 0)) throw new RangeError(`lockTimeout must be a number of ms >= 0, got ${timeout}`);
  return { id, timeout, deadline: timeout === undefined ? undefined : Date.now() + timeout, signal };
}

const timeLeft = (wait: Wait): number | undefined => (wait.deadline === undefined ? undefined : Math.max(0, wait.deadline - Date.now()));

/**
 * A pooled connection, waited for no longer than the lock may be: a pool whose connections are all
 * held is part of the wait, reported as `PoolTimeoutError`. A connection that arrives after the
 * caller gave up goes straight back to the pool.
 */
export function checkout<C>(driver: SqlDriver<C>, wait: Wait): Promise<C> {
  if (driver.poolEnded()) {
    return Promise.reject(new BackendError(`The ${driver.server} pool ${driver.poolName} was ended (pool.end()): no session can be opened on it any more`));
  }
  const connecting = driver.connect();
  const { signal, deadline } = wait;
  if (deadline === undefined && !signal) return connecting;
  return new Promise<C>((resolve, reject) => {
    let settled = false;
    const settle = (then: () => void): boolean => {
      if (settled) return false;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      then();
      return true;
    };
    const onAbort = () => settle(() => reject(abortReason(signal!)));
    const timer = deadline === undefined
      ? undefined
      : setTimeout(() => settle(() => reject(new PoolTimeoutError(wait.id, wait.timeout!, driver.poolName, driver.poolSize(), connectionsHeld(driver.pool)))), Math.max(0, deadline - Date.now()));
    signal?.addEventListener('abort', onAbort, { once: true });
    connecting.then(
      (connection) => {
        if (!settle(() => resolve(connection))) driver.giveBack(connection);
      },
      (error: unknown) => settle(() => reject(error)),
    );
  });
}

/**
 * Runs the statements; an abort cancels them on the server (the caller then sees `signal.aborted`).
 * A cancel that arrives before the statement runs (a proxy such as PgBouncer may forward it early)
 * is sent again; if the statements still run, or a cancel cannot be sent, it gives up and the caller
 * closes the connection, which ends the wait.
 */
function abortable<C>(held: Held<C>, statements: readonly string[], signal: AbortSignal | undefined): Promise<unknown[]> {
  const running = held.driver.run(held.connection, statements);
  if (!signal) return running;
  return new Promise<unknown[]>((resolve, reject) => {
    const timers: NodeJS.Timeout[] = [];
    const giveUp = () => reject(abortReason(signal));
    const cancel = () => void held.driver.cancel(held.connection).catch(giveUp);
    const onAbort = () => {
      cancel();
      timers.push(setTimeout(cancel, 250), setTimeout(giveUp, 2000));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    running.then(resolve, reject).finally(() => {
      signal.removeEventListener('abort', onAbort);
      for (const timer of timers) clearTimeout(timer);
    });
  });
}

/** The connection is done with: back to the pool when clean, else closed. */
function end<C>(held: Held<C>, state: Exclude<State, 'held'>, cause?: Error): void {
  if (held.state !== 'held') return;
  held.state = state;
  holdEnded(held.driver.pool);
  if (cause) {
    held.driver.destroy(held.connection, cause);
  } else {
    held.stopListening();
    held.driver.giveBack(held.connection);
  }
}

/** Runs `abandon` after a failed statement, then gives the connection back, or closes it when that fails too. */
async function abandon<C>(held: Held<C>): Promise<void> {
  try {
    await held.driver.run(held.connection, held.statements.abandon);
    end(held, 'released');
  } catch (abandonError) {
    end(held, 'released', abandonError as Error);
  }
}

const lostMessage = <C>(held: Held<C>, what: string): string => held.driver.poolEnded()
  ? `The ${held.driver.server} pool ${held.driver.poolName} was ended (pool.end()) while session ${held.id} held one of its connections: its lock is gone and ${what}. End a pool only after releasing its sessions (Flavor.close() does both in order).`
  : `The ${held.driver.server} connection holding the lock of session ${held.id} was lost (${held.died?.message ?? 'closed'}); the server released the lock and ${what}. Open the session again to go on.`;

/**
 * Takes the lock of `id` on a pooled connection and runs `after` in the same round trip, once the
 * lock is granted. Resolves with the lock and the results of `after`. On any failure no lock is held
 * and the connection is back in the pool, or closed; `after`'s own errors are thrown as they are.
 */
export async function lockWith<C>(
  driver: SqlDriver<C>,
  statements: HoldStatements,
  id: string,
  mode: LockMode,
  options: AcquireOptions = {},
  after: readonly string[] = [],
): Promise<{ lock: Lock; results: unknown[] }> {
  const { signal } = options;
  if (signal?.aborted) throw abortReason(signal);
  const wait = waitOf(id, options);
  const connection = await checkout(driver, wait);
  const held: Held<C> = {
    driver,
    connection,
    id,
    statements,
    state: 'held',
    died: undefined,
    queue: Promise.resolve(),
    stopListening: driver.listen(connection, (error) => {
      held.died ??= error;
    }),
  };
  holdStarted(driver.pool);
  const take = statements.take(timeLeft(wait));
  let results: unknown[];
  try {
    results = await abortable(held, [...take.statements, ...after], signal);
  } catch (error) {
    if (signal?.aborted) {
      end(held, 'released', error as Error);
      throw abortReason(signal);
    }
    if (driver.isFatal(error) || held.died) {
      held.died ??= error as Error;
      end(held, 'lost', error as Error);
      throw new LockLostError(id, `Lost the ${driver.server} connection while taking the lock of session ${id}: ${(error as Error).message}; nothing was written`, { cause: error });
    }
    await abandon(held);
    if (driver.isLockTimeout(error)) throw new LockTimeoutError(id, wait.timeout ?? 0, { cause: error });
    throw error;
  }
  const granted = take.granted ? take.granted(results) : true;
  if (signal?.aborted) {
    // The lock may have been granted just before the cancel: closing the connection frees it.
    end(held, 'released', abortReason(signal) as Error);
    throw abortReason(signal);
  }
  if (granted === false) {
    // `after` ran without the lock: its writes are guarded by the lock, so they wrote nothing.
    await abandon(held);
    throw new LockTimeoutError(id, wait.timeout ?? 0);
  }
  if (granted === null) {
    end(held, 'released', new Error('lock wait interrupted'));
    throw new LockLostError(id, `The ${driver.server} lock wait of session ${id} was interrupted on the server; nothing was written`);
  }
  const lock: Lock = { id, mode, release: async () => void (await settle(lock)) };
  heldLocks.set(lock, held as Held<unknown>);
  return { lock, results: results.slice(take.statements.length) };
}

function heldOf(lock: Lock): Held<unknown> {
  const held = heldLocks.get(lock);
  if (!held) throw new TypeError(`This lock of session ${lock.id} was not taken by a SQL locker of this store's backend`);
  return held;
}

/** Runs `step` after every earlier statement of this lock. */
function inOrder<T>(held: Held<unknown>, step: () => Promise<T>): Promise<T> {
  const next = held.queue.then(step, step);
  held.queue = next.catch(() => {});
  return next;
}

/** Before a write: refuses it when the lock is gone or released, sending nothing. */
function assertHeld(held: Held<unknown>): void {
  if (held.state === 'held' && held.died) end(held, 'lost', held.died);
  if (held.state === 'lost') throw new LockLostError(held.id, lostMessage(held, 'nothing was written'), { cause: held.died });
  if (held.state === 'released') throw new TypeError(`The lock of session ${held.id} was released already`);
}

/** The lock is lost during a write: whether the write reached the server is unknown. */
function lostDuring(held: Held<unknown>, error: unknown): LockLostError {
  held.died ??= error as Error;
  end(held, 'lost', error as Error);
  const what = held.driver.wasNotSent?.(error)
    ? 'nothing was written'
    : 'whether this write reached the server before is unknown (the stored version is either the one before or this one, never a mix)';
  return new LockLostError(held.id, lostMessage(held, what), { cause: error });
}

/**
 * Runs `statements` (writes) on the lock's connection and keeps the lock. A failed statement is
 * thrown as it is and the lock kept where the backend can (else released); a lost lock is `LockLostError`.
 */
export function writeHeld(lock: Lock, statements: readonly string[]): Promise<unknown[]> {
  const held = heldOf(lock);
  return inOrder(held, async () => {
    assertHeld(held);
    try {
      const before = held.statements.keepBefore?.() ?? [];
      const results = await held.driver.run(held.connection, [...before, ...statements, ...held.statements.keep]);
      return results.slice(before.length, before.length + statements.length);
    } catch (error) {
      if (held.driver.isFatal(error) || held.died) throw lostDuring(held, error);
      const { recover } = held.statements;
      if (recover === undefined) {
        await abandon(held);
        held.state = 'lost';
        throw error;
      }
      await held.driver.run(held.connection, recover).catch((recoverError: Error) => {
        throw lostDuring(held, recoverError);
      });
      throw error;
    }
  });
}

/** Runs `statements` on the lock's connection before anything else, without any write of its own (a catalog read). */
export function readHeld(lock: Lock, statements: readonly string[]): Promise<unknown[]> {
  const held = heldOf(lock);
  return inOrder(held, async () => {
    assertHeld(held);
    try {
      return await held.driver.run(held.connection, statements);
    } catch (error) {
      if (held.driver.isFatal(error) || held.died) throw lostDuring(held, error);
      throw error;
    }
  });
}

/**
 * Runs `before` (the last write, if any) and ends the lock, in one round trip, and gives the
 * connection back. When a statement of `before` fails, the lock is released all the same and the
 * error thrown; a lost lock is `LockLostError`. Releasing a released or lost lock with nothing to
 * write does nothing.
 */
export function settle(lock: Lock, before: readonly string[] = []): Promise<unknown[]> {
  const held = heldOf(lock);
  return inOrder(held, async () => {
    if (before.length === 0) {
      if (held.state === 'held' && held.died) end(held, 'lost', held.died);
      if (held.state !== 'held') return [];
    }
    assertHeld(held);
    let results: unknown[];
    try {
      results = await held.driver.run(held.connection, [...before, ...held.statements.release]);
    } catch (error) {
      if (held.driver.isFatal(error) || held.died) {
        if (before.length > 0) throw lostDuring(held, error);
        // Nothing to write, and the lock went with the connection: released all the same.
        end(held, 'lost', error as Error);
        return [];
      }
      await abandon(held);
      throw error;
    }
    end(held, 'released');
    return results.slice(0, before.length);
  });
}
