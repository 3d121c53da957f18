/**
 * The held leases of one lease locker and the one timer that renews them: running while any lease is
 * held (every `lease / 3` ms, so a lease outlasts two missed renewals), stopped when none is, and
 * unref'd, so held leases never keep the process alive. The Redis and SQL lease lockers share it.
 */
export interface Renewals<H> {
  /** The leases held now, in the order they were taken. */
  readonly held: ReadonlySet<H>;
  start(lease: H): void;
  stop(lease: H): void;
  /** Stops the timer and forgets every lease (the locker is closing). */
  clear(): void;
}

export function renewals<H>(leaseMs: number, renew: (held: ReadonlySet<H>) => void): Renewals<H> {
  const held = new Set<H>();
  let timer: NodeJS.Timeout | undefined;
  const stopTimer = () => {
    if (timer) clearInterval(timer);
    timer = undefined;
  };
  return {
    held,
    start(lease) {
      held.add(lease);
      timer ??= setInterval(() => renew(held), Math.floor(leaseMs / 3)).unref();
    },
    stop(lease) {
      held.delete(lease);
      if (held.size === 0) stopTimer();
    },
    clear() {
      stopTimer();
      held.clear();
    },
  };
}
