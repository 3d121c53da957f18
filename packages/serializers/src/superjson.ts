import SuperJSON from 'superjson';
import { SerializationError, type Serializer } from '@tied/core';
import { corruptJson, parseJsonSession, refuseUnstorable } from './json-text.js';

/** Keys superjson refuses at any depth (its prototype-pollution guard). */
const REFUSED_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * True when superjson would write `value` as `{"json": <its JSON>}` with no meta: only plain objects,
 * arrays without undefined, strings, booleans, null and finite numbers other than -0, no object
 * reached twice. Most sessions are like that, and for them JSON.stringify gives superjson's exact
 * bytes without its two walks over the data (the test suite checks the equivalence).
 */
function isPlainJson(value: unknown, seen: Set<object>): boolean {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      return Number.isFinite(value) && !Object.is(value, -0);
    case 'object':
      break;
    default:
      return false;
  }
  if (value === null) return true;
  if (seen.has(value)) return false;
  seen.add(value);
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      if (item === undefined || !isPlainJson(item, seen)) return false;
    }
    return true;
  }
  const prototype = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) return false;
  // Symbol keys take the slow path, which refuses them rather than letting JSON drop them.
  if (Object.getOwnPropertySymbols(value).length > 0) return false;
  for (const key of Object.keys(value)) {
    if (REFUSED_KEYS.has(key) || !isPlainJson((value as Record<string, unknown>)[key], seen)) return false;
  }
  return true;
}

/**
 * The default serializer: JSON text that keeps Date, Map, Set, BigInt, RegExp, undefined, shared
 * references and cycles (superjson's meta). Functions and symbols are refused, not dropped; so are
 * keys named `__proto__`, `constructor` or `prototype`, which superjson refuses at any depth.
 */
export function superjson(): Serializer {
  return {
    name: 'superjson',
    output: 'text',
    serialize(value) {
      if (isPlainJson(value, new Set())) return `{"json":${JSON.stringify(value)}}`;
      refuseUnstorable(value, 'superjson', false);
      try {
        return SuperJSON.stringify(value);
      } catch (error) {
        throw new SerializationError(`superjson cannot hold this session: ${(error as Error).message}`, { cause: error });
      }
    },
    unserialize(data) {
      const parsed = parseJsonSession(data, 'superjson');
      const json = parsed.json;
      if (typeof json !== 'object' || json === null || Array.isArray(json)) {
        return corruptJson('superjson', 'it has no "json" object');
      }
      // Without meta there is nothing to revive: the parsed JSON is the session.
      if (parsed.meta === undefined && Object.keys(parsed).length === 1) return json as Record<string, unknown>;
      try {
        return SuperJSON.deserialize(parsed as never) as Record<string, unknown>;
      } catch (error) {
        return corruptJson('superjson', `its type annotations are invalid (${(error as Error).message})`);
      }
    },
  };
}
