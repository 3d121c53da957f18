import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { SerializationError, SessionCorruptError } from '@tied/core';
import { serializerSuite } from '@tied/conformance/jest';
import { PerlRef, SlotForm, bless, blessed, nfreeze, perlDetails, perlDouble, storable, thaw } from '../src/storable.js';

// ---------------------------------------------------------------------------------------------------
// Fixtures: the vectors of FORMAT.md, made by gen.pl with Perl 5.36 / Storable 3.26 (see fixtures/storable/README.md)

const FIXTURES = fileURLToPath(new URL('./fixtures/storable/', import.meta.url));

interface Vector {
  name: string;
  description: string;
  hex?: string;
  value?: unknown;
  bytes: Buffer;
}

function vectors(set: string): Vector[] {
  const dir = `${FIXTURES}vectors/${set}`;
  return readdirSync(dir)
    .filter((file) => file.endsWith('.json'))
    .map((file) => {
      const json = JSON.parse(readFileSync(`${dir}/${file}`, 'utf8')) as Omit<Vector, 'bytes'>;
      return { ...json, bytes: readFileSync(`${dir}/${file.replace(/\.json$/, '.bin')}`) };
    });
}

const nfrozen = [...vectors(''), ...vectors('storable-3.35')];
const native = vectors('native');
const rejected = vectors('reject');

function vector(name: string): Buffer {
  const found = nfrozen.find((v) => v.name === name);
  if (found === undefined) throw new Error(`no vector ${name}`);
  return found.bytes;
}

const hex = (text: string): Uint8Array => Buffer.from(text.replace(/\s+/g, ''), 'hex');
const toHex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const ascii = (text: string): string => Buffer.from(text, 'latin1').toString('hex');

// ---------------------------------------------------------------------------------------------------
// The test-vector JSON convention of FORMAT.md §10, computed from the JS values thaw returns

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Key = string | number;

/** The §10 `value` of a thawed root: pass 1 finds which tags are pointed back at, pass 2 renders. */
function convention(root: unknown): Json {
  const wanted = new Set<number>();
  new Convention(wanted, false).referent(root as object, 0);
  return new Convention(wanted, true).referent(root as object, 0);
}

class Convention {
  private next = 0;
  private readonly tags = new Map<object, number>();
  private readonly slotTags = new Map<object, Map<Key, number>>();

  constructor(private readonly wanted: Set<number>, private readonly final: boolean) {}

  referent(referent: object, refForm: number): Json {
    const options: Record<string, Json> = {};
    if (refForm & SlotForm.WEAK) options.$weak = true;
    if (refForm & SlotForm.OVERLOADED) options.$overloaded = true;
    const seen = this.tags.get(referent);
    if (seen !== undefined) {
      this.wanted.add(seen);
      return { $seen: seen, ...options };
    }
    const tag = this.next;
    this.tags.set(referent, tag);
    if (this.final && this.wanted.has(tag)) options.$id = tag;
    const details = perlDetails(referent);
    if (details?.className !== undefined) options.$bless = details.className;
    const plain = Object.keys(options).length === 0;
    if (referent instanceof PerlRef) return { $ref: this.slot(referent, 'value'), ...options };
    this.next++;
    if (Array.isArray(referent)) {
      const items: Json[] = [];
      for (let i = 0; i < referent.length; i++) {
        if (i in referent) {
          items.push(this.slot(referent, i));
        } else {
          this.next++;
          items.push({ $sv: 'undef' });
        }
      }
      return plain ? items : { $array: items, ...options };
    }
    const hash = referent as Record<string, unknown>;
    const keys = Object.keys(hash);
    for (const [key, flags] of details?.keyFlags ?? []) if (flags & 0x10 && !Object.hasOwn(hash, key)) keys.push(key);
    keys.sort((a, b) => compareCodePoints([...a], [...b]));
    const wide = (key: string) => /[^\u0000-\u00ff]/.test(key);
    if (details?.hashFlags !== undefined || keys.some(wide)) {
      const entries = keys.map((key): Json => {
        const flags = details?.keyFlags?.get(key) ?? (wide(key) ? 1 : 0);
        if (Object.hasOwn(hash, key)) return [key, flags, this.slot(hash, key)];
        this.next++;
        return [key, flags, { $sv: 'undef' }];
      });
      return { $flaghash: entries, $hflags: details?.hashFlags ?? 0, ...options };
    }
    const entries = keys.map((key): [string, Json] => [key, this.slot(hash, key)]);
    const simpleKey = (key: string) => /^[\x20-\x7e]*$/.test(key) && !key.startsWith('$') && !/^(?:0|[1-9][0-9]{0,9})$/.test(key);
    if (plain && keys.every(simpleKey)) return Object.fromEntries(entries);
    return { $hash: entries, ...options };
  }

  private slot(holder: object, key: Key): Json {
    const details = perlDetails(holder);
    const form = details?.forms?.get(key) ?? 0;
    const alias = details?.aliases?.get(key);
    if (alias !== undefined) {
      const tag = this.slotTags.get(alias[0])?.get(alias[1]);
      if (tag === undefined) throw new Error('alias before its target');
      this.wanted.add(tag);
      return { $alias: tag };
    }
    const tag = this.next++;
    if (form & SlotForm.ALIASED) {
      if (!this.slotTags.has(holder)) this.slotTags.set(holder, new Map());
      this.slotTags.get(holder)!.set(key, tag);
    }
    const node = this.scalar((holder as Record<Key, unknown>)[key], form);
    return this.final && form & SlotForm.ALIASED && this.wanted.has(tag) ? { $id: tag, $value: node } : node;
  }

  private scalar(value: unknown, form: number): Json {
    const kind = form & SlotForm.SCALAR;
    if (value === null) return kind === SlotForm.SV_UNDEF ? { $sv: 'undef' } : kind === SlotForm.SVUNDEF_ELEM ? { $sv: 'undef_elem' } : null;
    if (typeof value === 'boolean') return kind === SlotForm.BOOLEAN ? value : { $sv: value ? 'yes' : 'no' };
    if (typeof value === 'string') return kind === SlotForm.UTF8 || /[^\u0000-\u00ff]/.test(value) ? { $utf8: value } : value;
    if (typeof value === 'number') return Number.isSafeInteger(value) ? value : { $double: doubleRepr(value) };
    if (typeof value === 'bigint') return { $int: String(value) };
    return this.referent(value as object, form);
  }
}

function compareCodePoints(a: string[], b: string[]): number {
  for (let i = 0; i < a.length && i < b.length; i++) {
    const d = a[i]!.codePointAt(0)! - b[i]!.codePointAt(0)!;
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

/** gen.pl's double_repr: the shortest C `%.{p}g` that reads back as the same double. */
function doubleRepr(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (!Number.isFinite(value)) return value > 0 ? 'Infinity' : '-Infinity';
  for (let precision = 1; ; precision++) {
    const exponential = value.toExponential(precision - 1);
    if (Number(exponential) !== value) continue;
    const [mantissa, exponentText] = exponential.split('e') as [string, string];
    const exponent = Number(exponentText);
    const sign = mantissa.startsWith('-') ? '-' : '';
    const digits = mantissa.replace(/[-.]/g, '').replace(/0+$/, '') || '0';
    if (exponent < -4 || exponent >= precision) {
      const size = Math.abs(exponent);
      return `${sign}${digits[0]}${digits.length > 1 ? `.${digits.slice(1)}` : ''}e${exponent < 0 ? '-' : '+'}${size < 10 ? '0' : ''}${size}`;
    }
    if (exponent < 0) return `${sign}0.${'0'.repeat(-exponent - 1)}${digits}`;
    const whole = digits.slice(0, exponent + 1).padEnd(exponent + 1, '0');
    const fraction = digits.slice(exponent + 1);
    return `${sign}${whole}${fraction ? `.${fraction}` : ''}`;
  }
}

function expectCorrupt(bytes: Uint8Array, message: RegExp): void {
  let caught: unknown;
  try {
    thaw(bytes);
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(SessionCorruptError);
  expect((caught as Error).message).toMatch(message);
}

function expectUnstorable(value: unknown, message: RegExp): void {
  let caught: unknown;
  try {
    nfreeze(value);
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(SerializationError);
  expect((caught as Error).message).toMatch(message);
}

// ---------------------------------------------------------------------------------------------------

serializerSuite({ name: 'storable', factory: () => storable() });

describe('Perl vectors', () => {
  test('the fixtures are all there', () => {
    expect(nfrozen).toHaveLength(63);
    expect(native).toHaveLength(6);
    expect(rejected).toHaveLength(10);
  });

  test.each(nfrozen.map((v) => [v.name, v] as const))('%s: thaw gives the vector value, nfreeze gives back the same bytes', (_name, v) => {
    if (v.hex !== undefined) expect(toHex(v.bytes)).toBe(v.hex);
    const value = thaw(v.bytes);
    expect(convention(value)).toEqual(v.value);
    expect(toHex(nfreeze(value))).toBe(toHex(v.bytes));
  });

  test.each(native.map((v) => [v.name, v] as const))('native %s: thaw gives the vector value, and nfreeze writes what Perl nfreeze wrote', (name, v) => {
    const value = thaw(v.bytes);
    expect(convention(value)).toEqual(v.value);
    // The same Perl data frozen with nfreeze: doubles and 64-bit integers become strings there.
    expect(toHex(nfreeze(value))).toBe(toHex(vector(name)));
  });

  test.each(rejected.map((v) => [v.name, v] as const))('reject %s with a SessionCorruptError naming the opcode', (_name, v) => {
    const opcode = /(SX_\w+) \(\d+\)/.exec(v.description)![1]!;
    expectCorrupt(v.bytes, new RegExp(`${opcode} \\(0x`));
    expect(() => storable().unserialize(v.bytes)).toThrow(SessionCorruptError);
  });
});

describe('numbers (doubles.txt: 47,033 doubles as Perl nfreeze writes them)', () => {
  const lines = readFileSync(`${FIXTURES}doubles.txt`, 'utf8').trim().split('\n');

  test('every double is written as Perl writes it, and reads back as that number', () => {
    const failures: string[] = [];
    for (const line of lines) {
      const [doubleHex, expected] = line.split(' ') as [string, string];
      const value = Buffer.from(doubleHex, 'hex').readDoubleBE(0);
      const bytes = nfreeze(new PerlRef(value));
      if (toHex(bytes) !== expected) failures.push(`${doubleHex} (${value}): ${toHex(bytes)} instead of ${expected}`);
      // Reading back gives the integer, or the text nfreeze wrote, which Perl numifies to within 15 digits.
      const back = (thaw(bytes) as PerlRef).value;
      const ok = typeof back === 'number'
        ? back === value
        : back === (Number.isSafeInteger(value) ? String(value) : perlDouble(value)) && closeTo(Number(back.replace('Inf', 'Infinity')), value);
      if (!ok) failures.push(`${doubleHex} (${value}): read back as ${JSON.stringify(back)}`);
    }
    expect(failures.slice(0, 10)).toEqual([]);
    expect(lines).toHaveLength(47033);
  });

  test('ties round to even as in glibc, where toPrecision(15) rounds away from zero', () => {
    expect(perlDouble(100000000000000.5)).toBe('100000000000000');
    expect(perlDouble(100000000000001.5)).toBe('100000000000002');
    expect(perlDouble(0.1 + 0.2)).toBe('0.3');
    expect(perlDouble(2 ** 53)).toBe('9.00719925474099e+15');
    expect(perlDouble(1e-5)).toBe('1e-05');
    expect(perlDouble(-0.0001234)).toBe('-0.0001234');
  });

  test('integers: SX_BYTE, SX_NETINT, then decimal strings; -0 is 0', () => {
    expect(toHex(nfreeze([0, -0, 127, -128, 128, -129, 2147483647, -2147483648, 2147483648]))).toBe(
      '050b0200000009' + '0880' + '0880' + '08ff' + '0800' + '0900000080' + '09ffffff7f' + '097fffffff' + '0980000000' + `0a0a${ascii('2147483648')}`,
    );
  });

  test('bigint: the same rules within 64 bits, refused beyond', () => {
    expect(toHex(nfreeze([5n, 18446744073709551615n, -9223372036854775808n]))).toBe(
      `050b020000000308850a14${ascii('18446744073709551615')}0a14${ascii('-9223372036854775808')}`,
    );
    expectUnstorable([18446744073709551616n], /BigInt 18446744073709551616, outside Perl's 64-bit integers at \[0\]/);
    expectUnstorable({ n: -9223372036854775809n }, /BigInt -9223372036854775809/);
  });

  test("doubles: 'shortest' writes the text that reads back exactly", () => {
    const bytes = nfreeze({ x: 0.1 + 0.2, inf: -Infinity }, { doubles: 'shortest' });
    expect(thaw(bytes)).toEqual({ x: '0.30000000000000004', inf: '-Inf' });
  });
});

function closeTo(actual: number, expected: number): boolean {
  if (Number.isNaN(expected)) return Number.isNaN(actual);
  // The largest doubles print as 1.79769313486232e+308, which is beyond them: Perl reads Inf too.
  if (!Number.isFinite(actual)) return Math.abs(expected) > 1.7976931348623e308 && Math.sign(actual) === Math.sign(expected);
  return Math.abs(actual - expected) <= Math.abs(expected) * 5e-15;
}

describe('thaw: the JS values', () => {
  test('web_session reads as a plain session object', () => {
    const session = storable().unserialize(vector('web_session')) as Record<string, any>;
    expect(Object.getPrototypeOf(session)).toBe(Object.prototype);
    expect(session._session_id).toBe('9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08');
    expect(session.visits).toBe(1024);
    expect(session.user.id).toBe('4294967297'); // nfreeze wrote the 64-bit integer as a string
    expect(session.user.balance).toBe('1234.56'); // and the double as its 15-digit text
    expect(blessed(session.user)).toBe('MyApp::User');
    expect(blessed(session.cart.total)).toBe('My::Money');
    expect(session.cart.shipping_address).toBe(session.cart.billing_address);
    expect(session.cart.shipping_address.city).toBe('München');
    expect(session.flash[0].message).toBe('Willkommen zurück, José!');
    expect(session.user.prefs['表示名']).toBe('ヨセ');
    expect(session.cart.coupon).toBeNull();
  });

  test('cycles and shared references keep their identity', () => {
    const self = thaw(vector('cycle_self')) as Record<string, unknown>;
    expect(self.self).toBe(self);
    const parent = thaw(vector('cycle_mutual')) as Record<string, any>;
    expect(parent.child.parent).toBe(parent);
    const [a, b, c] = thaw(vector('shared_arrayref_3x')) as unknown[];
    expect(a).toBe(b);
    expect(b).toBe(c);
    const [x, y] = thaw(vector('shared_scalar_ref')) as PerlRef[];
    expect(x).toBeInstanceOf(PerlRef);
    expect(x).toBe(y);
    expect(x!.value).toBe(5);
  });

  test('scalar references are PerlRefs, also at the root', () => {
    expect(thaw(vector('string_ascii'))).toEqual(new PerlRef('hello, world'));
    expect(thaw(vector('ref_to_ref_root'))).toEqual(new PerlRef(new PerlRef('x')));
    expect(thaw(vector('undef_scalar_ref'))).toEqual(new PerlRef(null));
  });

  test('non-existent array elements are holes', () => {
    const array = thaw(vector('array_sparse')) as unknown[];
    expect(array).toHaveLength(4);
    expect(0 in array).toBe(false);
    expect(array[3]).toBe('x');
  });

  test('byte strings read as Latin-1, UTF-8 strings as text', () => {
    expect((thaw(vector('string_latin1_bytes')) as PerlRef).value).toBe('caf\u00e9');
    expect((thaw(vector('string_utf8_downgradable')) as PerlRef).value).toBe('caf\u00e9');
    expect((thaw(vector('string_binary_256')) as PerlRef<string>).value).toHaveLength(256);
    expect((thaw(hex(`050b 17 03 efbbbf`)) as PerlRef).value).toBe('\ufeff'); // a BOM is text, not skipped
  });

  test('booleans: immortals and Storable 3.27 booleans read as true/false; Perl 5.36 copies are strings', () => {
    expect(thaw(hex('050b 02 00000004 0f 10 22 23'))).toEqual([true, false, true, false]);
    expect(thaw(vector('booleans_perl536'))).toEqual(['1', '', '1', '']);
  });

  test('the long string forms and SX_NETINT are accepted for small values too', () => {
    expect(thaw(hex(`050b 02 00000003 01 00000003 ${ascii('abc')} 09 00000001 18 00000002 ${ascii('hi')}`))).toEqual(['abc', 1, 'hi']);
  });

  test('native freeze: SX_INTEGER outside the safe range is a bigint, SX_DOUBLE a number', () => {
    const values = thaw(native.find((v) => v.name === 'int_64bit')!.bytes) as unknown[];
    expect(values.slice(0, 4)).toEqual([2147483648, -2147483649, 4294967296, 9007199254740992n]);
    const doubles = thaw(native.find((v) => v.name === 'float_list')!.bytes) as unknown[];
    expect(doubles.slice(0, 3)).toEqual([0.5, -1.5, 3]);
    // Big-endian 64-bit writers use the same layout with the other byte order.
    expect(thaw(hex(`040b 08 ${ascii('87654321')} 04080808 02 00000002 06 0000000100000000 07 3ff8000000000000`))).toEqual([4294967296, 1.5]);
  });

  test('"__proto__" from Perl is an own key and pollutes no prototype', () => {
    const bytes = hex(`050b 03 00000002 04 03 00000001 08 81 00000008 ${ascii('polluted')} 00000009 ${ascii('__proto__')} 0a 01 78 00000001 ${ascii('a')}`);
    const session = storable().unserialize(bytes) as Record<string, any>;
    expect(Object.getPrototypeOf(session)).toBe(Object.prototype);
    expect(Object.hasOwn(session, '__proto__')).toBe(true);
    expect(Object.keys(session).sort()).toEqual(['__proto__', 'a']);
    expect(session['__proto__']).toEqual({ polluted: 1 });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(session.polluted).toBeUndefined();
    expect(toHex(nfreeze(session))).toBe(toHex(bytes));
  });

  test('a reference to an array or hash element becomes a PerlRef holding a copy (JS cannot point into a slot)', () => {
    // [$x, \$x] where the first element is $x itself: 02 00000002 | 0a 01 61 | 04 00 <tag 1>
    const [value, ref] = thaw(hex(`050b 02 00000002 0a 01 61 04 00 00000001`)) as [string, PerlRef];
    expect(value).toBe('a');
    expect(ref).toEqual(new PerlRef('a'));
  });

  test('trailing bytes are ignored like Perl does, or refused on request', () => {
    const bytes = hex('050b 02 00000001 08 81 ff ee');
    expect(thaw(bytes)).toEqual([1]);
    expect(() => thaw(bytes, { trailingBytes: 'reject' })).toThrow(/2 bytes after the frozen object/);
    expect(() => storable({ trailingBytes: 'reject' }).unserialize(bytes)).toThrow(SessionCorruptError);
    expect(storable().unserialize(hex('050b 03 00000000 00'))).toEqual({});
  });

  test('unserialize wants a hash, and takes text as one byte per character', () => {
    const s = storable();
    expect(() => s.unserialize(vector('empty_array'))).toThrow(/holds an array, not a session hash/);
    expect(() => s.unserialize(vector('string_ascii'))).toThrow(/holds a scalar reference/);
    expect(s.unserialize(Buffer.from(vector('hash_latin1_byte_key')).toString('latin1'))).toEqual({ 'caf\u00e9': 1 });
    expect(() => s.unserialize('\u0005\u000b\u0003\u2603')).toThrow(SessionCorruptError);
    expect(blessed(s.unserialize(vector('blessed_hash')))).toBe('My::Session');
  });
});

describe('thaw: refusing what is not a Storable image', () => {
  const cuts = ['web_session', 'blessed_many_classes', 'hash_utf8_keys', 'hash_restricted', 'immortals', 'weakref', 'string_utf8_long'];

  /** The lengths at which a cut image is not refused with a SessionCorruptError (none, we expect). */
  function cutsNotRefused(bytes: Uint8Array): number[] {
    const lengths: number[] = [];
    for (let length = 0; length < bytes.length; length++) {
      try {
        thaw(bytes.subarray(0, length));
        lengths.push(length);
      } catch (error) {
        if (!(error instanceof SessionCorruptError)) lengths.push(length);
      }
    }
    return lengths;
  }

  test.each(cuts)('%s truncated at every byte', (name) => {
    expect(cutsNotRefused(vector(name))).toEqual([]);
  });

  test('native web_session truncated at every byte', () => {
    expect(cutsNotRefused(native.find((v) => v.name === 'web_session')!.bytes)).toEqual([]);
  });

  test('bad headers', () => {
    expectCorrupt(hex(''), /0 bytes are too short for a Storable header/);
    expectCorrupt(hex('05'), /too short/);
    expectCorrupt(hex('070b 03 00000000'), /major version 3/);
    expectCorrupt(hex('030b 03 00000000'), /major version 1/);
    expectCorrupt(hex('050d 03 00000000'), /minor version 13/);
    expectCorrupt(hex(`${ascii('pst0')} 050b 03 00000000`), /"pst0" starts a Storable file written by store\(\)/);
    expectCorrupt(hex(`040b 04 ${ascii('1234')} 04040408 03 00000000`), /native byte order "1234" is not supported/);
    expectCorrupt(hex(`040b 08 ${ascii('12345678')} 04080810 03 00000000`), /double=16 are not supported/);
    expectCorrupt(hex(`040b 08 ${ascii('12345678')} 04`), /needs 4 bytes/);
  });

  test('lengths larger than the input are refused before anything is allocated', () => {
    expectCorrupt(hex('050b 01 7fffffff 41'), /length 2147483647 exceeds the 1 bytes left/);
    expectCorrupt(hex('050b 18 7fffffff'), /length 2147483647 exceeds/);
    expectCorrupt(hex('050b 0a ff 41'), /length 255 exceeds/);
    expectCorrupt(hex('050b 02 7fffffff 05'), /array of 2147483647 elements in 1 bytes/);
    expectCorrupt(hex('050b 03 7fffffff 05'), /hash of 2147483647 entries/);
    expectCorrupt(hex('050b 19 00 7fffffff 05'), /hash of 2147483647 entries/);
    expectCorrupt(hex('050b 03 00000001 05 7fffffff'), /length 2147483647 exceeds the 0 bytes left/);
    expectCorrupt(hex('050b 11 80 7fffffff'), /length 2147483647 exceeds/);
    expectCorrupt(hex('050b 02 ffffffff'), /negative length -1/);
    expectCorrupt(hex('050b 01 80000000'), /negative length/);
  });

  test('nesting deeper than the limit is refused without a stack overflow (100,000 levels)', () => {
    const deep = 100_000;
    const arrays = Buffer.concat([hex('050b'), ...Array.from({ length: deep }, () => hex('02 00000001 04')), hex('05')]);
    expectCorrupt(arrays, /nesting deeper than 1000 levels/);
    const refs = Buffer.concat([hex('050b'), Buffer.alloc(deep, 0x04), hex('05')]);
    expectCorrupt(refs, /nesting deeper than 1000 levels/);
    const hashes = Buffer.concat([hex('050b'), ...Array.from({ length: deep }, () => hex('03 00000001 04')), hex('05')]);
    expectCorrupt(hashes, /nesting deeper than 1000 levels/);
    const blesses = Buffer.concat([hex(`050b 11 01 ${ascii('A')}`), Buffer.from(Array.from({ length: deep }, () => [0x12, 0x00]).flat()), hex('03 00000000')]);
    expectCorrupt(blesses, /nesting deeper than 1000 levels/);
  });

  test('the depth limit: 1000 levels read and write, 1001 do not', () => {
    const nested = (levels: number) => Buffer.concat([hex('050b'), ...Array.from({ length: levels - 1 }, () => hex('02 00000001 04')), hex('02 00000000')]);
    const value = thaw(nested(1000));
    expect(toHex(nfreeze(value))).toBe(toHex(nested(1000)));
    expectCorrupt(nested(1001), /nesting deeper than 1000 levels/);
    expect(JSON.stringify(thaw(nested(1001), { maxDepth: 1001 }))).toBe('['.repeat(1001) + ']'.repeat(1001));
    expectUnstorable([value], /nesting deeper than 1000 levels at \[0\]\[0\]/);
  });

  test('unknown opcodes and opcodes this codec does not support', () => {
    for (let op = 0x24; op <= 0xff; op++) {
      expectCorrupt(hex(`050b 02 00000001 ${op.toString(16)}`), new RegExp(`unknown opcode 0x${op.toString(16)}`));
    }
    expectCorrupt(hex('050b 21 02 0000000000000001 05'), /SX_LOBJECT \(0x21\): objects of 2 GiB or more/);
    expectCorrupt(hex('050b 02 00000001 06 0000000000000001'), /SX_INTEGER \(0x06\) in a network-order stream/);
    expectCorrupt(hex('050b 02 00000001 07 3ff0000000000000'), /SX_DOUBLE \(0x07\) in a network-order stream/);
    expectCorrupt(hex(`050b 02 00000001 11 01 ${ascii('A')} 0a 01 78`), /SX_BLESS \(0x11\) of a value that is not behind a reference/);
  });

  test('broken back-references, class indexes, key flags and UTF-8', () => {
    expectCorrupt(hex('050b 02 00000001 04 00 00000005'), /SX_OBJECT refers to tag 5, but only 2 values were read/);
    expectCorrupt(hex('050b 02 00000001 00 00000002'), /SX_OBJECT refers to tag 2/);
    expectCorrupt(hex('050b 12 00 03 00000000'), /SX_IX_BLESS class index 0, but only 0 classes were named/);
    expectCorrupt(hex(`050b 19 00 00000001 05 08 00000001 ${ascii('k')}`), /key flags 0x8/);
    expectCorrupt(hex('050b 17 02 c328'), /invalid UTF-8/);
    expectCorrupt(hex('050b 17 03 eda080'), /invalid UTF-8/); // a UTF-16 surrogate
    expectCorrupt(hex('050b 19 00 00000001 05 01 00000001 ff'), /invalid UTF-8/);
  });
});

describe('nfreeze: JS values', () => {
  test('a session object is written as nfreeze writes the Perl hash', () => {
    const bytes = storable().serialize({ b: 'two', a: 1, c: null, d: [], e: {} });
    expect(bytes).toBeInstanceOf(Uint8Array);
    expect(toHex(bytes as Uint8Array)).toBe(toHex(vector('hash_simple')));
  });

  test('keys are written in code point order (Perl cmp), not UTF-16 order', () => {
    // perl -MStorable=nfreeze -e '$Storable::canonical=1; print unpack "H*", nfreeze {"\x{1F600}"=>1, "\x{FFFD}"=>2, "\x{E000}"=>3, a=>4}'
    expect(toHex(nfreeze({ '\u{1F600}': 1, '\uFFFD': 2, '\uE000': 3, a: 4 }))).toBe(
      '050b190000000004088400000000016108830100000003ee808008820100000003efbfbd08810100000004f09f9880',
    );
  });

  test('strings: Latin-1 text as byte strings, wider text as UTF-8, Uint8Array as bytes', () => {
    expect(toHex(nfreeze(['caf\u00e9', '\u263a', new Uint8Array([0, 255]), Buffer.from('hi')]))).toBe(
      `050b0200000004 0a04636166e9 1703e298ba 0a0200ff 0a026869`.replace(/ /g, ''),
    );
    expect(toHex(nfreeze(new PerlRef('\u263a'.repeat(85))))).toMatch(/^050b17ff/);
    expect(toHex(nfreeze(new PerlRef('\u263a'.repeat(86))))).toMatch(/^050b1800000102/);
    expect(toHex(nfreeze(new PerlRef('y'.repeat(256))))).toBe(toHex(vector('string_len_256')));
  });

  test('booleans: 1 and 0 by default, SX_BOOLEAN for Storable 3.27 readers on request', () => {
    expect(toHex(nfreeze([true, false]))).toBe('050b02000000020881' + '0880');
    expect(toHex(nfreeze([true, false], { booleans: 'native' }))).toBe('050b02000000022223');
    expect(storable().unserialize(storable().serialize({ t: true, f: false }))).toEqual({ t: 1, f: 0 });
  });

  test('undefined is undef, and array holes are non-existent elements', () => {
    const sparse = [, , , 'x'];
    expect(toHex(nfreeze(sparse))).toBe(toHex(vector('array_sparse')));
    expect(toHex(nfreeze([undefined, null]))).toBe(toHex(vector('array_of_undef')));
    expect(storable().unserialize(storable().serialize({ u: undefined }))).toEqual({ u: null });
  });

  test('shared objects and cycles are written once and come back shared', () => {
    const address = { city: 'Berlin' };
    const session: Record<string, unknown> = { billing: address, shipping: address };
    session.self = session;
    const back = storable().unserialize(storable().serialize(session)) as Record<string, any>;
    expect(back.billing).toBe(back.shipping);
    expect(back.self).toBe(back);
    const box = new PerlRef(5);
    expect(toHex(nfreeze([box, box]))).toBe(toHex(vector('shared_scalar_ref')));
  });

  test('blessed objects are written with their class, repeated classes by index', () => {
    const list = [bless({}, 'Alpha'), bless([], 'Beta'), bless({ a: 1 }, 'Alpha'), bless(new PerlRef(3), 'Beta')];
    expect(toHex(nfreeze(list))).toBe(toHex(vector('blessed_repeated_class')));
    const back = thaw(nfreeze(list)) as unknown[];
    expect(back.map(blessed)).toEqual(['Alpha', 'Beta', 'Alpha', 'Beta']);
    expect(blessed({})).toBeUndefined();
    expect(blessed('Alpha')).toBeUndefined();
    expectUnstorable(bless({}, 'Caf\u00e9::\u263a'), /class name "Café::☺": Perl class names are bytes/);
  });

  test('what Perl wrote is kept where it still fits, and dropped where the value changed', () => {
    const session = thaw(vector('web_session')) as Record<string, any>;
    session.cart.shipping_address.city = 'K\u00f6ln'; // was a UTF-8 string: stays one
    session.user.karma = 5;
    const again = thaw(nfreeze(session)) as Record<string, any>;
    expect(perlDetails(again.cart.shipping_address)?.forms?.get('city')).toBe(SlotForm.UTF8);
    expect(again.cart.shipping_address.city).toBe('K\u00f6ln');
    expect(again.user.karma).toBe(5);
    expect(blessed(again.user)).toBe('MyApp::User');

    const immortals = thaw(vector('immortals')) as PerlRef[];
    immortals[0]!.value = 7; // no longer PL_sv_yes
    expect((thaw(nfreeze(immortals)) as PerlRef[])[0]!.value).toBe(7);

    const aliased = thaw(vector('alias_same_sv')) as string[];
    aliased[1] = 'b'; // no longer the same scalar as element 0
    expect(toHex(nfreeze(aliased))).toBe(`050b02000000020a01610a0162`);
  });

  test('values with no Perl form throw SerializationError, with the path to them', () => {
    class Point {
      x = 1;
    }
    const cases: [unknown, RegExp][] = [
      [{ f: () => 1 }, /a function at \.f/],
      [{ s: Symbol('s') }, /a symbol at \.s/],
      [{ m: new Map() }, /a Map at \.m/],
      [{ set: new Set([1]) }, /a Set at \.set/],
      [{ d: new Date(0) }, /a Date at \.d/],
      [{ r: /x/ }, /a RegExp at \.r/],
      [{ p: new Point() }, /a Point at \.p/],
      [{ w: new WeakMap() }, /a WeakMap/],
      [{ i: new Int16Array(2) }, /an Int16Array at \.i/],
      [{ b: new ArrayBuffer(2) }, /an ArrayBuffer at \.b/],
      [{ c: new Uint8ClampedArray(2) }, /a Uint8ClampedArray/],
      [{ p: Promise.resolve() }, /a Promise/],
      [{ a: [1, { 'odd key': [() => 1] }] }, /a function at \.a\[1\]\["odd key"\]\[0\]/],
      [{ s: 'ok\ud800' }, /a lone surrogate U\+D800, which has no UTF-8 form at \.s/],
      [{ k: { 'x\udc00': 1 } }, /a lone surrogate U\+DC00/],
      [{ n: new PerlRef(Symbol.iterator) }, /a symbol at \.n/],
    ];
    for (const [value, message] of cases) {
      expectUnstorable(value, message);
      expect(() => storable().serialize(value as Record<string, unknown>)).toThrow(SerializationError);
    }
    for (const root of [null, undefined, 'x', 1, 1n, () => 1, Symbol('s'), new Date(0)]) {
      expectUnstorable(root, /as the root: it must be a plain object, an array or a PerlRef/);
    }
  });

  test('null-prototype objects are hashes; symbol keys and non-enumerable properties are not data', () => {
    const hash = Object.assign(Object.create(null) as Record<string, unknown>, { a: 1 });
    Object.defineProperty(hash, 'hidden', { value: 2, enumerable: false });
    (hash as Record<symbol, unknown>)[Symbol('s')] = 3;
    expect(thaw(nfreeze(hash))).toEqual({ a: 1 });
  });
});

// ---------------------------------------------------------------------------------------------------
// Properties

/** Valid images to mutate: every vector up to the size of a session, network and native. */
const corpus = [...nfrozen, ...native].map((v) => v.bytes).filter((bytes) => bytes.length <= 4096);

function mutate(base: Uint8Array, edits: [number, number, number][]): Uint8Array {
  let bytes = Uint8Array.from(base);
  for (const [kind, position, byte] of edits) {
    const at = position % (bytes.length + 1);
    if (kind === 0 && at < bytes.length) {
      bytes[at]! ^= byte || 1; // flip bits
    } else if (kind === 1) {
      const inserted = new Uint8Array(bytes.length + 1);
      inserted.set(bytes.subarray(0, at));
      inserted[at] = byte;
      inserted.set(bytes.subarray(at), at + 1);
      bytes = inserted;
    } else if (kind === 2 && at < bytes.length) {
      const removed = new Uint8Array(bytes.length - 1);
      removed.set(bytes.subarray(0, at));
      removed.set(bytes.subarray(at + 1), at);
      bytes = removed;
    } else if (kind === 3) {
      bytes = bytes.subarray(0, at); // truncate
    }
  }
  return bytes;
}

/** What a decoded input must do: give a session hash, or a SessionCorruptError; and write back. */
function decodesOrRefuses(bytes: Uint8Array): void {
  const serializer = storable();
  let session: Record<string, unknown>;
  try {
    session = serializer.unserialize(bytes);
  } catch (error) {
    if (error instanceof SessionCorruptError) return;
    throw error;
  }
  serializer.serialize(session);
}

/**
 * A JS value as it comes back from Perl's point of view (docs/perl-storable-mapping.md): booleans
 * are 1 and 0, undefined is undef, integers outside 32 bits and other doubles are their nfreeze text.
 */
function perlView(value: unknown): unknown {
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (value === undefined || value === null) return null;
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) return perlDouble(value);
    return value === (value | 0) ? value + 0 : String(value);
  }
  if (typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(perlView);
  const view: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) Object.defineProperty(view, key, { value: perlView(item), enumerable: true, writable: true, configurable: true });
  return view;
}

describe('properties', () => {
  test('90,000 mutated images (bytes flipped, inserted, removed, truncated): a value or a SessionCorruptError', () => {
    const edit = fc.tuple(fc.nat(3), fc.nat(), fc.nat(255));
    fc.assert(
      fc.property(fc.nat(corpus.length - 1), fc.array(edit, { minLength: 1, maxLength: 3 }), (index, edits) => {
        decodesOrRefuses(mutate(corpus[index]!, edits));
      }),
      { numRuns: 90_000 },
    );
  });

  test('10,000 random inputs, most behind a valid header: a value or a SessionCorruptError', () => {
    fc.assert(
      fc.property(fc.constantFrom('', '050b', '040b0831323334353637380408080803'), fc.uint8Array({ maxLength: 48 }), (header, body) => {
        decodesOrRefuses(Buffer.concat([hex(header), body]));
      }),
      { numRuns: 10_000 },
    );
  });

  test('JSON-like sessions round-trip (strings, safe integers, null, nested objects and arrays, "__proto__" keys)', () => {
    const key = fc.oneof(fc.string({ unit: 'binary', maxLength: 8 }), fc.constantFrom('__proto__', 'constructor', '0', '10', '-1', ''));
    const { value } = fc.letrec((tie) => ({
      value: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        fc.string({ unit: 'binary' }),
        fc.string({ unit: 'grapheme-ascii' }),
        fc.maxSafeInteger(),
        fc.integer(),
        fc.constant(null),
        tie('array'),
        tie('object'),
      ),
      array: fc.array(tie('value'), { maxLength: 5 }),
      object: fc.dictionary(key, tie('value'), { maxKeys: 5 }),
    }));
    const serializer = storable();
    fc.assert(
      fc.property(fc.dictionary(key, value, { maxKeys: 8 }), (session) => {
        expect(serializer.unserialize(serializer.serialize(session))).toEqual(perlView(session));
      }),
      { numRuns: 1500 },
    );
  });

  test('booleans, doubles and undefined come back as the documented Perl values', () => {
    const leaf = fc.oneof(fc.boolean(), fc.double(), fc.constant(undefined), fc.constant(-0));
    const serializer = storable();
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.oneof(leaf, fc.array(leaf, { maxLength: 4 }))), (session) => {
        expect(serializer.unserialize(serializer.serialize(session))).toEqual(perlView(session));
      }),
      { numRuns: 2000 },
    );
  });
});
