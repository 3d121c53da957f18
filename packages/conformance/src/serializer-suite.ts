import { describe, expect } from '@jest/globals';
import fc from 'fast-check';
import { SerializationError, SessionCorruptError, type Serializer } from '@tied/core';
import { bytesOf, testOrSkip, type SuiteOptions } from './common.js';

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

/** The contract every Serializer keeps: exact round trips, typed refusals, nothing else thrown. */
export function serializerSuite(options: SerializerSuiteOptions): void {
  const { name, skip } = options;
  describe(`${name} (serializer conformance)`, () => {
    const serializer = skip === undefined ? options.factory() : undefined!;
    const test = testOrSkip(skip);
    const sessions = options.sessionValues ?? portableSession();

    test('declares its name and output kind, and serializes to that kind', () => {
      expect(typeof serializer.name).toBe('string');
      const out = serializer.serialize({ _session_id: 'abc', n: 1 });
      expect(serializer.output === 'text' ? typeof out === 'string' : out instanceof Uint8Array).toBe(true);
    });

    test('a typical session round-trips', () => {
      const session = { _session_id: 'abc', user: { name: 'Ann', state: 'Ohio', roles: ['a', 'b'] }, count: 0, note: 'Grüße 🚀', none: null };
      expect(serializer.unserialize(serializer.serialize(session))).toEqual(session);
    });

    test('what it wrote as text it also reads back from the UTF-8 bytes', () => {
      const out = serializer.serialize({ k: 'Grüße' });
      expect(serializer.unserialize(bytesOf(out))).toEqual({ k: 'Grüße' });
    });

    test('arbitrary session values round-trip exactly (property)', () => {
      fc.assert(fc.property(sessions, (session) => {
        expect(serializer.unserialize(serializer.serialize(session))).toEqual(session);
      }), { numRuns: 300 });
    });

    test('a loaded session serializes back to the bytes it was loaded from (deep change detection relies on it)', () => {
      fc.assert(fc.property(sessions, (session) => {
        const stored = serializer.serialize(session);
        expect(bytesOf(serializer.serialize(serializer.unserialize(stored))).equals(bytesOf(stored))).toBe(true);
      }), { numRuns: 200 });
    });

    test('a function or a symbol is refused with SerializationError', () => {
      expect(() => serializer.serialize({ f: () => 1 })).toThrow(SerializationError);
      expect(() => serializer.serialize({ nested: { s: Symbol('x') } })).toThrow(SerializationError);
    });

    test('empty input and garbage are refused with SessionCorruptError', () => {
      for (const input of ['', new Uint8Array(0), 'not a session', Uint8Array.of(0xff, 0xfe, 0x00, 0x01)]) {
        expect(() => serializer.unserialize(input)).toThrow(SessionCorruptError);
      }
    });

    test('random and mutated input gives a value or SessionCorruptError, nothing else (property)', () => {
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
          expect(typeof value).toBe('object');
        } catch (error) {
          expect(error).toBeInstanceOf(SessionCorruptError);
        }
      }), { numRuns: options.corruptRuns ?? 2000 });
    });
  });
}
