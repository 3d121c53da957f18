/**
 * The one pool registry of tied's SQL backends: pools tied makes from a URI, shared by every part
 * made from the same one and ended with the last of them; and, for every pool (yours too), how many
 * of its connections locked sessions hold — what a `PoolTimeoutError` reports.
 */

import type { SqlDriver } from './held.js';

/** What a SQL part holds of its pool: the pool, the driver over it, a statement on it, and its end. */
export interface BackendPool<P, C> {
  readonly pool: P;
  readonly driver: SqlDriver<C>;
  /** Runs one statement on a pooled connection. */
  query(sql: string): Promise<unknown>;
  /** Ends the pool when tied made it and no other part uses it any more. */
  close(): Promise<void>;
}

interface SharedPool {
  readonly pool: object;
  readonly end: () => Promise<void>;
  users: number;
}

const shared = new Map<string, SharedPool>();
const heldBySessions = new WeakMap<object, number>();

export interface PoolUse<P> {
  readonly pool: P;
  /** Ends the pool when no other part uses it any more. Idempotent. */
  close(): Promise<void>;
}

/** The pool tied made for `key` (a URI without tied's own parameters), made now if there is none. */
export function sharedPool<P extends object>(key: string, create: () => { pool: P; end: () => Promise<void> }): PoolUse<P> {
  let entry = shared.get(key);
  if (!entry) {
    entry = { ...create(), users: 0 };
    shared.set(key, entry);
  }
  const use = entry;
  use.users++;
  let closed = false;
  return {
    pool: use.pool as P,
    async close() {
      if (closed) return;
      closed = true;
      if (--use.users > 0) return;
      shared.delete(key);
      await use.end();
    },
  };
}

/** A pool the caller made: tied never ends it. */
export function callersPool<P extends object>(pool: P): PoolUse<P> {
  return { pool, close: async () => {} };
}

export function holdStarted(pool: object): void {
  heldBySessions.set(pool, (heldBySessions.get(pool) ?? 0) + 1);
}

export function holdEnded(pool: object): void {
  heldBySessions.set(pool, Math.max(0, (heldBySessions.get(pool) ?? 0) - 1));
}

export function connectionsHeld(pool: object): number {
  return heldBySessions.get(pool) ?? 0;
}

/** A URI as a pool's name in messages: without its password or tied's parameters. */
export function poolName(uri: string): string {
  const url = new URL(uri);
  url.password = '';
  url.search = '';
  return url.toString();
}

/** The URI without tied's own `table` parameter (the store reads it; the driver would not know it). */
export function driverUri(uri: string): string {
  const url = new URL(uri);
  url.searchParams.delete('table');
  return url.toString();
}
