import { expect, test } from '@jest/globals';
import fc from 'fast-check';
import SuperJSON from 'superjson';
import { SerializationError, SessionCorruptError } from '@tied/core';
import { portableSession, serializerSuite } from '@tied/conformance/jest';
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

test('the plain-JSON fast path writes exactly the bytes superjson writes (property)', () => {
  const shared = { k: 1 };
  const tricky = fc.constantFrom<unknown>(undefined, -0, NaN, Infinity, 1n, new Date(0), new Map([[1, 2]]), new Set([1]), /re/g, shared, [1, , 3], [undefined], Object.create(null), { toJSON: 'not a function' });
  const leaf = fc.oneof(fc.string(), fc.double(), fc.integer(), fc.boolean(), fc.constant(null), tricky);
  const value = fc.letrec((tie) => ({
    node: fc.oneof({ depthSize: 'small' }, leaf, tie('array'), tie('object')),
    array: fc.array(tie('node'), { maxLength: 4 }),
    object: fc.dictionary(fc.string().filter((k) => !reservedKeys.includes(k)), tie('node'), { maxKeys: 4 }),
  })).node;
  const session = fc.dictionary(fc.string().filter((k) => !reservedKeys.includes(k)), value, { maxKeys: 6 });
  fc.assert(fc.property(session, (data) => {
    expect(superjson().serialize(data)).toBe(SuperJSON.stringify(data));
    expect(superjson().unserialize(superjson().serialize(data))).toEqual(SuperJSON.parse(SuperJSON.stringify(data)));
  }), { numRuns: 2000 });
});
