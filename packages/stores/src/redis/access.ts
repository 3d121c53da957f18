import { LockLostError, SessionCorruptError, SessionExistsError, SessionNotFoundError, type FusedAccess, type Lock, type Payload } from '@tied/core';
import type { Connection, Replication } from './connection.js';
import type { Leases } from './locker.js';
import { FENCED_REMOVE, FENCED_UPDATE, LOCK_AND_INSERT, LOCK_AND_READ } from './scripts.js';

/** What the fused calls need of a `redisStore`. */
export interface StoreSide {
  readonly connection: Connection;
  dataKey(id: string): string;
  /** The bytes to send; throws `SessionTooLargeError` before anything is sent. */
  bytesOf(data: Payload): string | Buffer;
  /** ARGV of a write after the data: now, a write id unique to this write, the ttl. */
  writeArgs(token: string): (string | number)[];
  /** How many replicas must confirm a write (none: undefined). */
  readonly replication: Replication | undefined;
}

/** The `LockLostError` of a write refused because the lease it relied on was gone: nothing was written. */
export function leaseLost(id: string): LockLostError {
  return new LockLostError(id, `The lease on the lock of session ${id} ran out before this write (someone else may hold it now); nothing was written`);
}

/** A key at a session's place that is not a session (a script reported its Redis type). */
export function notASession(id: string, key: string, type: Buffer | string): SessionCorruptError {
  return new SessionCorruptError(`Session ${id} is corrupt: its key ${key} holds a Redis ${String(type)}, not a tied session hash; nothing was written`);
}

/**
 * A redisStore and a redisLocker on one server, fused: lock+read and lock+insert are one script each,
 * and every write or removal of a locked session is one script fenced by the lease token — refused
 * with `LockLostError` (nothing written) once the lease is not the holder's any more. Each of these
 * scripts settles the lease itself, whatever it finds, so a locked cycle costs 2 round trips.
 */
export function fusedAccess(store: StoreSide, leases: Leases): FusedAccess {
  const { connection, dataKey, replication } = store;
  const { lockKey } = leases;

  /** Interprets FENCED_UPDATE's reply. */
  const written = (id: string, reply: unknown): void => {
    if (reply === 1) return;
    if (reply === -1) throw leaseLost(id);
    if (reply === 0) throw new SessionNotFoundError(id);
    throw notASession(id, dataKey(id), reply as Buffer);
  };

  /** The bytes of `data`; when too large, the lock is released before the error is thrown. */
  const bytesReleasing = async (lock: Lock, data: Payload): Promise<string | Buffer> => {
    try {
      return store.bytesOf(data);
    } catch (error) {
      await lock.release();
      throw error;
    }
  };

  return {
    async lockAndMaterialize(id, mode, options) {
      const { lock, value } = await leases.acquireWith(id, mode, options, async (token) => {
        const reply = (await connection.run(LOCK_AND_READ, [dataKey(id), lockKey(id)], [token, leases.lease])) as [number, Buffer?, Buffer?];
        return reply[0] === 0 ? undefined : { held: reply[0] === 1, value: reply };
      });
      if (value[0] === 3) throw notASession(id, dataKey(id), value[1]!);
      if (!lock) throw new SessionNotFoundError(id);
      return { lock, stored: { data: value[1]!, updatedAt: Number(value[2]?.toString()) } };
    },

    async lockAndInsert(id, data, options) {
      const bytes = store.bytesOf(data);
      const { lock } = await leases.acquireWith(id, 'write', options, async (token) => {
        const reply = await connection.runWrite(LOCK_AND_INSERT, [dataKey(id), lockKey(id)], [token, leases.lease, bytes, ...store.writeArgs(token)], replication);
        return reply === 2 ? undefined : { held: reply === 1, value: undefined };
      });
      if (!lock) throw new SessionExistsError(id);
      return lock;
    },

    async updateLocked(lock, id, data) {
      const bytes = store.bytesOf(data);
      const token = leases.tokenOf(lock);
      written(id, await connection.runWrite(FENCED_UPDATE, [dataKey(id), lockKey(id)], [bytes, ...store.writeArgs(token), token, '0'], replication));
    },

    async updateAndRelease(lock, id, data) {
      if (data === undefined) return lock.release();
      const bytes = await bytesReleasing(lock, data);
      const reply = await leases.settle(lock, (token) =>
        connection.runWrite(FENCED_UPDATE, [dataKey(id), lockKey(id)], [bytes, ...store.writeArgs(token), token, '1'], replication));
      written(id, reply);
    },

    async removeAndRelease(lock, id) {
      const reply = await leases.settle(lock, (token) => connection.runWrite(FENCED_REMOVE, [dataKey(id), lockKey(id)], [token], replication));
      if (reply === -1) throw new LockLostError(id, `The lease on the lock of session ${id} ran out before its removal (someone else may hold it now); nothing was removed`);
    },
  };
}
