/**
 * The key layout of the Redis backend. Every key tied writes is `<prefix>…{<id>}`: only the id is
 * inside the hash tag, so a session's data key and lock key sit in one Redis Cluster slot whatever
 * the two prefixes are, and one script may touch both.
 */
import { randomUUID } from 'node:crypto';

/** A session: a hash at `<prefix>{<id>}` (fields `d` data, `t` written at, `w` which write). */
export const dataKey = (prefix: string, id: string): string => `${prefix}{${id}}`;
/** The lease of a session's lock: a string (the holder's token) at `<prefix>lock:{<id>}`. */
export const lockKey = (prefix: string, id: string): string => `${prefix}lock:{${id}}`;

/** The id in a data key made by `dataKey(prefix, id)`. */
export const idOfDataKey = (prefix: string, key: string): string => key.slice(prefix.length + 1, -1);

/** The SCAN pattern of every data key under `prefix` (glob characters in the prefix are literal). */
export const dataKeyPattern = (prefix: string): string => `${prefix.replace(/[*?[\]\\]/g, '\\$&')}{*}`;

/** Prefixes must not hold a hash tag of their own, or a session's two keys could land in two slots. */
export function checkPrefix(prefix: unknown, part: string): string {
  if (typeof prefix !== 'string' || /[{}]/.test(prefix)) {
    throw new TypeError(`${part}: prefix must be a string without { or }, got ${JSON.stringify(prefix)}`);
  }
  return prefix;
}

/** A random lease token: who holds a lock (randomUUID draws from a cached pool: cheaper than randomBytes per lock). */
export const newToken = (): string => randomUUID();
