/**
 * A SQL store fused with a lease locker of its backend on the same pool: take the lease and read (or
 * insert) in one round trip, write (or remove) and delete the lease in one, each write fenced by the
 * lease token in the same statement or transaction — a holder whose lease was taken over writes
 * nothing (`LockLostError`). No step holds a connection past its round trip.
 */
import { LockLostError, SessionExistsError, SessionNotFoundError, type FusedAccess, type Lock, type Payload, type StoredSession } from '@tied/core';
import { leaseLost, type Leases } from './lease.js';
import type { Layout } from './table.js';

/** What a write under a lease found: written, the session missing (the lease was held), or the lease gone. */
export type WriteOutcome = 'written' | 'missing' | 'lost';

/** Statements and how to read their results: one round trip. */
export interface Step<T> {
  readonly statements: readonly string[];
  read(results: readonly unknown[]): T;
}

/** The fenced statements of one session table and one lease table, as a dialect writes them. */
export interface FencedSql {
  /** Take the lease, then read the session: undefined while busy, else the row (undefined when missing). */
  lockAndRead(layout: Layout, id: string, token: string, leaseMs: number): Step<{ row: Record<string, unknown> | undefined } | undefined>;
  /** Take the lease, then insert if it is held: undefined while busy, else whether the row was inserted. A duplicate may also be the server's error. */
  lockAndInsert(layout: Layout, id: string, value: string, token: string, leaseMs: number): Step<boolean | undefined>;
  /** Write if the lease is still `token`'s, and extend it (`release` false) or delete it (`release` true). */
  write(layout: Layout, id: string, value: string, token: string, leaseMs: number, release: boolean): Step<WriteOutcome>;
  /** Remove the session and delete the lease if it is still `token`'s: whether it was. */
  remove(id: string, token: string): Step<boolean>;
}

/** What the fused calls need of the store. */
export interface LeaseStoreSide {
  readonly fenced: FencedSql;
  /** The table's layout, read from the catalog once. */
  layout(): Promise<Layout>;
  /** The payload as SQL, after the checks that keep a write from truncating anything. */
  payload(layout: Layout, data: Payload): string;
  checkId(layout: Layout, id: string): void;
  stored(row: Record<string, unknown>): StoredSession;
  isDuplicate(error: unknown): boolean;
  /** A server's "data too long" as `SessionTooLargeError`; anything else as it is. */
  tooLarge(error: unknown, data: Payload): unknown;
}

export function leaseAccess(store: LeaseStoreSide, leases: Leases): FusedAccess {
  const { fenced } = store;
  const { lease } = leases;
  const run = async <T>(step: Step<T>, wait?: Parameters<Leases['run']>[1]): Promise<T> => step.read(await leases.run(step.statements, wait));
  const release = (lock: Lock): Promise<unknown> => leases.settle(lock, (token) => leases.run([leases.sql.release(lock.id, token)]));

  /** The payload as SQL; when it is refused, the lock is released before the error is thrown. */
  const payloadReleasing = async (lock: Lock, data: Payload): Promise<{ layout: Layout; value: string }> => {
    try {
      const layout = await store.layout();
      return { layout, value: store.payload(layout, data) };
    } catch (error) {
      await lock.release();
      throw error;
    }
  };

  const outcome = (lock: Lock, id: string, found: WriteOutcome): void => {
    if (found === 'lost') {
      leases.lose(lock);
      throw leaseLost(id);
    }
    if (found === 'missing') throw new SessionNotFoundError(id);
  };

  return {
    async lockAndMaterialize(id, mode, options) {
      const layout = await store.layout();
      const { lock, value } = await leases.acquireWith(id, mode, options, async (token, wait) => {
        const read = await run(fenced.lockAndRead(layout, id, token, lease), wait);
        return read && { held: true, value: read.row };
      });
      if (!value) {
        await release(lock!);
        throw new SessionNotFoundError(id);
      }
      return { lock: lock!, stored: store.stored(value) };
    },

    async lockAndInsert(id, data, options) {
      const layout = await store.layout();
      store.checkId(layout, id);
      const value = store.payload(layout, data);
      let taken: { lock?: Lock; value: boolean };
      try {
        taken = await leases.acquireWith(id, 'write', options, async (token, wait) => {
          const inserted = await run(fenced.lockAndInsert(layout, id, value, token, lease), wait);
          return inserted === undefined ? undefined : { held: true, value: inserted };
        });
      } catch (error) {
        throw store.isDuplicate(error) ? new SessionExistsError(id, { cause: error }) : store.tooLarge(error, data);
      }
      if (!taken.value) {
        await release(taken.lock!);
        throw new SessionExistsError(id);
      }
      return taken.lock!;
    },

    async updateLocked(lock, id, data) {
      const token = leases.tokenOf(lock);
      const layout = await store.layout();
      const value = store.payload(layout, data);
      let found: WriteOutcome;
      try {
        found = await run(fenced.write(layout, id, value, token, lease, false));
      } catch (error) {
        throw store.tooLarge(error, data);
      }
      outcome(lock, id, found);
    },

    async updateAndRelease(lock, id, data) {
      if (data === undefined) return lock.release();
      const { layout, value } = await payloadReleasing(lock, data);
      let found: WriteOutcome;
      try {
        found = await leases.settle(lock, (token) => run(fenced.write(layout, id, value, token, lease, true)));
      } catch (error) {
        throw store.tooLarge(error, data);
      }
      outcome(lock, id, found);
    },

    async removeAndRelease(lock, id) {
      const held = await leases.settle(lock, (token) => run(fenced.remove(id, token)));
      if (!held) throw new LockLostError(id, `The lease on the lock of session ${id} ran out before its removal (someone else may hold it now); nothing was removed`);
    },
  };
}
