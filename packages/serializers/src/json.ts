import type { Serializer } from '@tied/core';
import { parseJsonSession, refuseUnstorable } from './json-text.js';

/**
 * Plain JSON, readable by anything. As with JSON.stringify, Dates become ISO strings and undefined
 * properties are left out; functions, symbols, BigInt, Map, Set and cycles are refused.
 */
export function json(): Serializer {
  return {
    name: 'json',
    output: 'text',
    serialize(value) {
      refuseUnstorable(value, 'json', true);
      return JSON.stringify(value);
    },
    unserialize: (data) => parseJsonSession(data, 'json'),
  };
}
