import SuperJSON from 'superjson';
import { SerializationError, type Serializer } from '@tied/core';
import { corruptJson, parseJsonSession, refuseUnstorable } from './json-text.js';

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
      refuseUnstorable(value, 'superjson', false);
      try {
        return SuperJSON.stringify(value);
      } catch (error) {
        throw new SerializationError(`superjson cannot hold this session: ${(error as Error).message}`, { cause: error });
      }
    },
    unserialize(data) {
      const parsed = parseJsonSession(data, 'superjson');
      if (typeof parsed.json !== 'object' || parsed.json === null || Array.isArray(parsed.json)) {
        return corruptJson('superjson', 'it has no "json" object');
      }
      try {
        return SuperJSON.deserialize(parsed as never) as Record<string, unknown>;
      } catch (error) {
        return corruptJson('superjson', `its type annotations are invalid (${(error as Error).message})`);
      }
    },
  };
}
