import { expect, test } from '@jest/globals';
import fc from 'fast-check';
import { SerializationError, SessionCorruptError } from '@tied/core';
import { portableSession, serializerSuite } from '@tied/conformance';
import { superjson } from '@tied/serializers/superjson';

const reservedKeys = ['__proto__', 'constructor', 'prototype'];
const richLeaf = fc.oneof(
  fc.date({ noInvalidDate: true }), fc.bigInt(), fc.constant(undefined), fc.double(), fc.boolean(),
  fc.constantFrom(/a+b/gi, /^x$/), fc.string(),
);
const richSession = fc.record({
  portable: portableSession({ excludeKeys: reservedKeys }),
  rich: fc.dictionary(fc.string().filter((k) => !reservedKeys.includes(k)), richLeaf, { noNullPrototype: true }),
  map: fc.array(fc.tuple(fc.string(), richLeaf), { maxLength: 4 }).map((entries) => new Map(entries)),
  set: fc.array(fc.oneof(fc.string(), fc.integer()), { maxLength: 4 }).map((items) => new Set(items)),
});

serializerSuite({ name: 'superjson', factory: () => superjson(), sessionValues: richSession });

test('Date, Map, Set, BigInt, undefined, RegExp, NaN, -0 and shared references survive', () => {
  const shared = { n: 1 };
  const value = { when: new Date(86_400_000), tags: new Set(['a']), scores: new Map([['x', 1n]]), gone: undefined, re: /x/g, nan: NaN, negZero: -0, a: shared, b: shared };
  const back = superjson().unserialize(superjson().serialize(value)) as typeof value;
  expect(back).toEqual(value);
  expect(Object.is(back.negZero, -0)).toBe(true);
  expect(back.a).toBe(back.b);
  expect('gone' in back).toBe(true);
});

test('a cycle round-trips', () => {
  const node: Record<string, unknown> = { name: 'loop' };
  node.self = node;
  const back = superjson().unserialize(superjson().serialize({ node })) as { node: Record<string, unknown> };
  expect(back.node.self).toBe(back.node);
});

test("keys superjson refuses (__proto__, constructor, prototype) give SerializationError, not superjson's Error", () => {
  expect(() => superjson().serialize({ nested: { constructor: 1 } })).toThrow(SerializationError);
  expect(() => superjson().serialize(JSON.parse('{"__proto__": {"polluted": true}}'))).toThrow(SerializationError);
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
});

test('JSON that is not superjson output is corrupt', () => {
  for (const input of ['{"a":1}', '[]', '{"json": 5}', '{"json": {}, "meta": {"values": {"a": ["custom", "nope"]}}}']) {
    expect(() => superjson().unserialize(input)).toThrow(SessionCorruptError);
  }
});
