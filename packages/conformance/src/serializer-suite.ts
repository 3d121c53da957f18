import assert from 'node:assert/strict';
import fc from 'fast-check';
import { SerializationError, SessionCorruptError, type Serializer } from '@tied/core';
import { assertInstanceOf, bytesOf, type SuiteOptions } from './common.js';
import { testOrSkip, type TestRunner } from './runner.js';

export interface SerializerSuiteOptions extends SuiteOptions<Serializer> {
  /**
   * Session values this serializer must round-trip exactly and serialize deterministically. Default:
   * `portableSession()`. Widen it for richer serializers.
   */
  sessionValues?: fc.Arbitrary<Record<string, unknown>>;
  /** Random inputs fed to `unserialize` (default 2,000). */
  corruptRuns?: number;
}

/**
 * Sessions every serializer holds without loss, Perl's Storable included: nested objects and arrays
 * of Unicode strings, 32-bit integers and null. `excludeKeys` leaves out keys a serializer refuses
 * by design (superjson refuses `__proto__`, `constructor`, `prototype`).
 */
export function portableSession(options: { excludeKeys?: readonly string[] } = {}): fc.Arbitrary<Record<string, unknown>> {
  const excluded = new Set(options.excludeKeys);
  const key = fc.string().filter((k) => !excluded.has(k));
  const leaf = fc.oneof(fc.string({ unit: 'grapheme' }), fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), fc.constant(null));
  const value = fc.letrec((tie) => ({
    value: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf, tie('array'), tie('object')),
    array: fc.array(tie('value'), { maxLength: 5 }),
    object: fc.dictionary(key, tie('value'), { maxKeys: 5, noNullPrototype: true }),
  })).value;
  return fc.dictionary(key, value, { maxKeys: 8, noNullPrototype: true });
}

/**
 * `value` with every object whose prototype is null or Object.prototype rebuilt as a plain object:
 * a session read back holds the same data whether or not the value written had a null prototype
 * (fast-check's records do), so the round-trip tests compare data, as deep equality should here.
 */
function asPlainData(value: unknown, copies = new Map<object, unknown>()): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (copies.has(value)) return copies.get(value);
  if (Array.isArray(value)) {
    const copy: unknown[] = [];
    copies.set(value, copy);
    for (const item of value) copy.push(asPlainData(item, copies));
    return copy;
  }
  if (value instanceof Map) {
    const copy = new Map();
    copies.set(value, copy);
    for (const [key, item] of value) copy.set(asPlainData(key, copies), asPlainData(item, copies));
    return copy;
  }
  if (value instanceof Set) {
    const copy = new Set();
    copies.set(value, copy);
    for (const item of value) copy.add(asPlainData(item, copies));
    return copy;
  }
  const prototype: unknown = Object.getPrototypeOf(value);
  if (prototype !== null && prototype !== Object.prototype) return value;
  const copy = {};
  copies.set(value, copy);
  for (const key of Reflect.ownKeys(value)) {
    // defineProperty, so that an own "__proto__" key stays a key.
    Object.defineProperty(copy, key, { value: asPlainData((value as Record<PropertyKey, unknown>)[key], copies), enumerable: true, writable: true, configurable: true });
  }
  return copy;
}

/** Asserts that `actual` holds the same session data as `expected`. */
function assertSameData(actual: unknown, expected: unknown): void {
  assert.deepEqual(asPlainData(actual), asPlainData(expected));
}

/** The contract every Serializer keeps: exact round trips, typed refusals, nothing else thrown. */
export function serializerSuite(runner: TestRunner, options: SerializerSuiteOptions): void {
  const { name, skip } = options;
  runner.describe(`${name} (serializer conformance)`, () => {
    const serializer = skip === undefined ? options.factory() : undefined!;
    const test = testOrSkip(runner, skip);
    const sessions = options.sessionValues ?? portableSession();

    test('declares its name and output kind, and serializes to that kind', async () => {
      assert.equal(typeof serializer.name, 'string');
      const out = serializer.serialize({ _session_id: 'abc', n: 1 });
      assert.ok(serializer.output === 'text' ? typeof out === 'string' : out instanceof Uint8Array, `output '${serializer.output}' but serialize returned a ${typeof out}`);
    });

    test('a typical session round-trips', async () => {
      const session = { _session_id: 'abc', user: { name: 'Ann', state: 'Ohio', roles: ['a', 'b'] }, count: 0, note: 'Grüße 🚀', none: null };
      assertSameData(serializer.unserialize(serializer.serialize(session)), session);
    });

    test('what it wrote as text it also reads back from the UTF-8 bytes', async () => {
      const out = serializer.serialize({ k: 'Grüße' });
      assertSameData(serializer.unserialize(bytesOf(out)), { k: 'Grüße' });
    });

    test('arbitrary session values round-trip exactly (property)', async () => {
      fc.assert(fc.property(sessions, (session) => {
        assertSameData(serializer.unserialize(serializer.serialize(session)), session);
      }), { numRuns: 300 });
    });

    test('a loaded session serializes back to the bytes it was loaded from (deep change detection relies on it)', async () => {
      fc.assert(fc.property(sessions, (session) => {
        const stored = serializer.serialize(session);
        assert.ok(bytesOf(serializer.serialize(serializer.unserialize(stored))).equals(bytesOf(stored)), 'serialized differently after a round trip');
      }), { numRuns: 200 });
    });

    test('a function or a symbol is refused with SerializationError', async () => {
      assert.throws(() => serializer.serialize({ f: () => 1 }), SerializationError);
      assert.throws(() => serializer.serialize({ nested: { s: Symbol('x') } }), SerializationError);
    });

    test('empty input and garbage are refused with SessionCorruptError', async () => {
      for (const input of ['', new Uint8Array(0), 'not a session', Uint8Array.of(0xff, 0xfe, 0x00, 0x01)]) {
        assert.throws(() => serializer.unserialize(input), SessionCorruptError);
      }
    });

    test('random and mutated input gives a value or SessionCorruptError, nothing else (property)', async () => {
      const valid = bytesOf(serializer.serialize({ _session_id: 'abc', user: { name: 'Ann', roles: ['a', 'b'] }, count: 7 }));
      const mutated = fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 }), fc.nat(valid.length)).map(([at, byte, cut]) => {
        const copy = Buffer.from(valid);
        copy[at] = byte;
        return copy.subarray(0, cut);
      });
      const input = fc.oneof(fc.uint8Array({ maxLength: 64 }), fc.string(), mutated);
      fc.assert(fc.property(input, (data) => {
        try {
          const value = serializer.unserialize(data);
          assert.equal(typeof value, 'object');
        } catch (error) {
          assertInstanceOf(error, SessionCorruptError);
        }
      }), { numRuns: options.corruptRuns ?? 2000 });
    });
  });
}
