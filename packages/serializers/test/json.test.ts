import { expect, test } from '@jest/globals';
import fc from 'fast-check';
import { SerializationError, SessionCorruptError } from '@tied/core';
import { serializerSuite } from '@tied/conformance/jest';
import { json } from '@tied/serializers/json';

serializerSuite({ name: 'json', factory: () => json(), sessionValues: fc.dictionary(fc.string(), fc.jsonValue({ noUnicodeString: false }), { noNullPrototype: true }).map((v) => JSON.parse(JSON.stringify(v))) });

test('what plain JSON would mangle or cannot hold is refused: BigInt, Map, Set, cycles', () => {
  const cycle: Record<string, unknown> = {};
  cycle.self = cycle;
  for (const value of [{ big: 1n }, { m: new Map() }, { s: new Set([1]) }, { cycle }]) {
    expect(() => json().serialize(value)).toThrow(SerializationError);
  }
});

test('as JSON does: Dates become ISO strings, undefined properties are left out, __proto__ is an own key', () => {
  expect(json().unserialize(json().serialize({ d: new Date(0), u: undefined }))).toEqual({ d: '1970-01-01T00:00:00.000Z' });
  const back = json().unserialize('{"__proto__": {"polluted": true}}');
  expect(Object.keys(back)).toEqual(['__proto__']);
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
});

test('bytes that are not UTF-8, and JSON whose top level is not an object, are corrupt', () => {
  for (const input of [Uint8Array.of(0x7b, 0xff, 0x7d), '[1]', '"text"', 'null', '12']) {
    expect(() => json().unserialize(input)).toThrow(SessionCorruptError);
  }
});
