import { LockTimeoutError, abortReason } from '@tied/core';

/** How long a lock may be waited for: the caller's timeout as a deadline, and its signal. */
export interface LockWait {
  readonly id: string;
  readonly timeout: number | undefined;
  /** `Date.now() + timeout`, fixed when the wait began; undefined: no limit. */
  readonly deadline: number | undefined;
  readonly signal: AbortSignal | undefined;
}

export function lockWait(id: string, timeout: number | undefined, signal: AbortSignal | undefined): LockWait {
  if (timeout !== undefined && !(timeout >= 0)) throw new RangeError(`lockTimeout must be a number of ms >= 0, got ${timeout}`);
  return { id, timeout, deadline: timeout === undefined ? undefined : Date.now() + timeout, signal };
}

/** Milliseconds left before the deadline (never negative), or undefined when there is none. */
export function timeLeft(wait: LockWait): number | undefined {
  return wait.deadline === undefined ? undefined : Math.max(0, wait.deadline - Date.now());
}

/**
 * Waits for a pooled connection, but no longer than the lock may be waited for: a pool whose
 * connections are all held by lock holders is part of the wait. A connection that arrives after
 * the caller gave up goes straight back to the pool.
 */
export function checkout<C>(connecting: Promise<C>, giveBack: (connection: C) => void, wait: LockWait): Promise<C> {
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
      : setTimeout(() => settle(() => reject(new LockTimeoutError(wait.id, wait.timeout!))), Math.max(0, deadline - Date.now()));
    signal?.addEventListener('abort', onAbort, { once: true });
    connecting.then(
      (connection) => {
        if (!settle(() => resolve(connection))) giveBack(connection);
      },
      (error: unknown) => settle(() => reject(error)),
    );
  });
}
