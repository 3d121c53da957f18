/**
 * Perl's `nfreeze`: the Writer writes a JS value as a network-order Storable image
 * (test/fixtures/storable/FORMAT.md), in the forms `PerlDetails` remember where they still fit.
 */
import { SerializationError } from '@tied/core';
import { INT64_MIN, UINT64_MAX, perlDouble, shortestDouble } from './numbers.js';
import {
  KEY_PLACEHOLDER, KEY_UTF8, SX_ARRAY, SX_BLESS, SX_BOOLEAN_FALSE, SX_BOOLEAN_TRUE, SX_BYTE,
  SX_FLAG_HASH, SX_HASH, SX_IX_BLESS, SX_LSCALAR, SX_LUTF8STR, SX_NETINT, SX_OBJECT, SX_OVERLOAD,
  SX_REF, SX_SCALAR, SX_SVUNDEF_ELEM, SX_SV_NO, SX_SV_UNDEF, SX_SV_YES, SX_UNDEF, SX_UTF8STR,
  SX_WEAKOVERLOAD, SX_WEAKREF,
} from './opcodes.js';
import { DEFAULT_MAX_DEPTH, type NfreezeOptions } from './options.js';
import { compareCodePoints, hasWideChar } from './strings.js';
import { UnstorableValue, describe, withPathSegment } from './unstorable.js';
import { BOX_KEY, PerlRef, SlotForm, perlDetails, slotValue, type PerlDetails, type SlotKey } from './values.js';

/** A writer's buffer, kept for the next nfreeze (the image itself is copied out of it). */
let spareBuffer: Uint8Array | undefined = new Uint8Array(16 * 1024);
const MAX_SPARE_BUFFER = 1024 * 1024;

/**
 * Perl's `nfreeze` (with `$Storable::canonical = 1`): `value` is the referent, a hash (plain object),
 * an array or a PerlRef. Throws `SerializationError` for values with no Perl form.
 */
export function nfreeze(value: unknown, options: NfreezeOptions = {}): Uint8Array {
  const writer = new Writer(options, spareBuffer ?? new Uint8Array(1024));
  spareBuffer = undefined;
  try {
    return writer.writeImage(value);
  } catch (error) {
    if (!(error instanceof UnstorableValue)) throw error;
    const where = error.path.length === 0 ? '' : ` at ${error.path.join('')}`;
    throw new SerializationError(`Storable cannot hold ${error.problem}${where}`);
  } finally {
    if (writer.buffer.length <= MAX_SPARE_BUFFER) spareBuffer = writer.buffer;
  }
}

type Referent = unknown[] | PerlRef | Record<string, unknown>;

/** Hashes are plain objects: their prototype is Object.prototype (of any realm) or null. */
function isReferent(value: object): value is Referent {
  if (Array.isArray(value) || value instanceof PerlRef) return true;
  const proto = Object.getPrototypeOf(value) as object | null;
  return proto === null || Object.getPrototypeOf(proto) === null;
}

function isUint8Array(value: object): value is Uint8Array {
  return ArrayBuffer.isView(value) && (value as { [Symbol.toStringTag]?: string })[Symbol.toStringTag] === 'Uint8Array';
}

class Writer {
  private view: DataView;
  private pos = 0;
  private nextTag = 0;
  private depth = 0;
  private readonly maxDepth: number;
  private readonly tags = new Map<object, number>();
  private readonly classes = new Map<string, number>();
  /** Tags of slots that another slot aliases, by container and key. */
  private aliasTags: Map<object, Map<SlotKey, number>> | undefined;

  constructor(private readonly options: NfreezeOptions, private buf: Uint8Array) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    this.maxDepth = options.maxDepth ?? DEFAULT_MAX_DEPTH;
  }

  get buffer(): Uint8Array {
    return this.buf;
  }

  writeImage(value: unknown): Uint8Array {
    if (typeof value !== 'object' || value === null || !isReferent(value)) {
      throw new UnstorableValue(`${describe(value)} as the root: it must be a plain object, an array or a PerlRef`);
    }
    this.u8(0x05); // major 2, network order
    this.u8(0x0b); // minor 11
    this.writeReferent(value);
    return this.buf.slice(0, this.pos);
  }

  // -- buffer ---------------------------------------------------------------------------------------

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const grown = new Uint8Array(Math.max(this.buf.length * 2, this.pos + n));
    grown.set(this.buf.subarray(0, this.pos));
    this.buf = grown;
    this.view = new DataView(grown.buffer);
  }

  private u8(byte: number): void {
    this.ensure(1);
    this.buf[this.pos++] = byte;
  }

  private i32(n: number): void {
    this.ensure(4);
    this.view.setInt32(this.pos, n);
    this.pos += 4;
  }

  /** `00 <tag>`: the SV written before with this tag. */
  private backReference(tag: number): void {
    this.u8(SX_OBJECT);
    this.ensure(4);
    this.view.setUint32(this.pos, tag);
    this.pos += 4;
  }

  // -- objects --------------------------------------------------------------------------------------

  private writeReferent(referent: Referent): void {
    const seen = this.tags.get(referent);
    if (seen !== undefined) return this.backReference(seen);
    if (++this.depth > this.maxDepth) throw new UnstorableValue(`nesting deeper than ${this.maxDepth} levels`);
    const details = perlDetails(referent);
    if (details?.className !== undefined) this.writeBless(details.className);
    if (referent instanceof PerlRef) {
      this.tags.set(referent, this.nextTag); // the tag of the scalar it holds
      this.writeSlot(referent, BOX_KEY, referent.value, details);
    } else if (Array.isArray(referent)) {
      this.tags.set(referent, this.nextTag++);
      this.writeArray(referent, details);
    } else {
      this.tags.set(referent, this.nextTag++);
      this.writeHash(referent, details);
    }
    this.depth--;
  }

  private writeBless(className: string): void {
    if (hasWideChar(className)) throw new UnstorableValue(`the class name ${JSON.stringify(className)}: Perl class names are bytes`);
    const index = this.classes.get(className);
    if (index !== undefined) {
      this.u8(SX_IX_BLESS);
      this.smallLen(index);
      return;
    }
    this.classes.set(className, this.classes.size);
    this.u8(SX_BLESS);
    this.smallLen(className.length);
    this.ensure(className.length);
    this.pos = this.latin1Into(className, this.pos);
  }

  private smallLen(n: number): void {
    if (n <= 127) return this.u8(n);
    this.u8(0x80);
    this.i32(n);
  }

  private writeArray(array: unknown[], details: PerlDetails | undefined): void {
    this.u8(SX_ARRAY);
    this.i32(array.length);
    for (let i = 0; i < array.length; i++) {
      const value = array[i];
      if (value === undefined && !(i in array)) {
        this.u8(SX_SV_UNDEF); // a hole is Perl's non-existent element
        this.nextTag++;
        continue;
      }
      try {
        this.writeSlot(array, i, value, details);
      } catch (error) {
        throw withPathSegment(error, i);
      }
    }
  }

  private writeHash(hash: Record<string, unknown>, details: PerlDetails | undefined): void {
    const keys = Object.keys(hash);
    const keyFlags = details?.keyFlags;
    if (keyFlags !== undefined) {
      for (const [key, flags] of keyFlags) {
        if (flags & KEY_PLACEHOLDER && !Object.hasOwn(hash, key)) keys.push(key);
      }
    }
    // Thawed hashes are mostly in canonical order already: check before sorting.
    let wide = false;
    let sorted = true;
    for (let i = 0; i < keys.length; i++) {
      if (!wide && hasWideChar(keys[i]!)) wide = true;
      if (sorted && i > 0 && compareCodePoints(keys[i - 1]!, keys[i]!) > 0) sorted = false;
    }
    if (!sorted) keys.sort(compareCodePoints);
    const flagged = wide || details?.hashFlags !== undefined;
    if (flagged) {
      this.u8(SX_FLAG_HASH);
      this.u8(details?.hashFlags ?? 0);
    } else {
      this.u8(SX_HASH);
    }
    this.i32(keys.length);
    for (const key of keys) {
      let flags = keyFlags?.get(key) ?? 0;
      if (keyFlags === undefined || Object.hasOwn(hash, key)) {
        flags &= ~KEY_PLACEHOLDER;
        try {
          this.writeSlot(hash, key, hash[key], details);
        } catch (error) {
          throw withPathSegment(error, key);
        }
      } else {
        this.u8(SX_SV_UNDEF); // a restricted hash's placeholder
        this.nextTag++;
      }
      if (flagged) {
        if (hasWideChar(key)) flags |= KEY_UTF8;
        this.u8(flags);
      }
      this.ensure(4 + 3 * key.length);
      const start = this.pos;
      this.pos = flags & KEY_UTF8 ? this.utf8Into(key, start + 4) : this.latin1Into(key, start + 4);
      this.view.setInt32(start, this.pos - start - 4);
    }
  }

  /** One SV in a slot of `holder`, written as `form` says when that still fits the value. */
  private writeSlot(holder: object, key: SlotKey, value: unknown, details: PerlDetails | undefined): void {
    const form = details?.forms?.get(key) ?? 0;
    const alias = details?.aliases?.get(key);
    if (alias !== undefined && this.writeAlias(alias, value)) return;
    if (form & SlotForm.ALIASED) {
      this.aliasTags ??= new Map();
      let tags = this.aliasTags.get(holder);
      if (tags === undefined) this.aliasTags.set(holder, tags = new Map());
      tags.set(key, this.nextTag);
    }
    this.nextTag++;
    const scalarForm = form & SlotForm.SCALAR;
    switch (typeof value) {
      case 'string':
        return scalarForm === SlotForm.UTF8 ? this.writeUtf8(value) : this.writeString(value);
      case 'number':
        return this.writeNumber(value);
      case 'boolean':
        return this.writeBoolean(value, scalarForm);
      case 'bigint':
        return this.writeBigInt(value);
      case 'undefined':
        return this.writeUndef(scalarForm);
      case 'object':
        if (value === null) return this.writeUndef(scalarForm);
        if (isUint8Array(value)) return this.writeBytes(value);
        if (!isReferent(value)) throw new UnstorableValue(describe(value));
        this.u8(form & SlotForm.WEAK
          ? (form & SlotForm.OVERLOADED ? SX_WEAKOVERLOAD : SX_WEAKREF)
          : (form & SlotForm.OVERLOADED ? SX_OVERLOAD : SX_REF));
        return this.writeReferent(value);
      default:
        throw new UnstorableValue(describe(value));
    }
  }

  /** A bare SX_OBJECT when the aliased slot was written and still holds the same value. */
  private writeAlias([target, targetKey]: readonly [object, SlotKey], value: unknown): boolean {
    const tag = this.aliasTags?.get(target)?.get(targetKey);
    if (tag === undefined || !Object.is(slotValue(target, targetKey), value ?? null)) return false;
    this.backReference(tag);
    return true;
  }

  private writeUndef(scalarForm: number): void {
    this.u8(scalarForm === SlotForm.SV_UNDEF ? SX_SV_UNDEF : scalarForm === SlotForm.SVUNDEF_ELEM ? SX_SVUNDEF_ELEM : SX_UNDEF);
  }

  private writeBoolean(value: boolean, scalarForm: number): void {
    if (scalarForm === SlotForm.SV_YES || scalarForm === SlotForm.SV_NO) return this.u8(value ? SX_SV_YES : SX_SV_NO);
    if (scalarForm === SlotForm.BOOLEAN || this.options.booleans === 'native') return this.u8(value ? SX_BOOLEAN_TRUE : SX_BOOLEAN_FALSE);
    this.u8(SX_BYTE);
    this.u8(value ? 129 : 128);
  }

  /** FORMAT.md §4.3/§4.4: what Perl writes for an IV, or for an NV that is not a safe integer. */
  private writeNumber(value: number): void {
    if (!Number.isSafeInteger(value)) return this.writeString(this.options.doubles === 'shortest' ? shortestDouble(value) : perlDouble(value));
    if (value >= -128 && value <= 127) {
      this.u8(SX_BYTE);
      this.u8(value + 128);
    } else if (value >= -2147483648 && value <= 2147483647) {
      this.u8(SX_NETINT);
      this.i32(value);
    } else {
      this.writeString(String(value)); // nfreeze has no 64-bit integer opcode
    }
  }

  private writeBigInt(value: bigint): void {
    if (value < INT64_MIN || value > UINT64_MAX) throw new UnstorableValue(`the BigInt ${value}, outside Perl's 64-bit integers`);
    if (value >= -2147483648n && value <= 2147483647n) return this.writeNumber(Number(value));
    this.writeString(String(value));
  }

  private writeBytes(bytes: Uint8Array): void {
    this.scalarHeader(bytes.length, SX_SCALAR, SX_LSCALAR);
    this.ensure(bytes.length);
    this.buf.set(bytes, this.pos);
    this.pos += bytes.length;
  }

  private scalarHeader(length: number, short: number, long: number): void {
    if (length <= 255) {
      this.u8(short);
      this.u8(length);
    } else {
      this.u8(long);
      this.i32(length);
    }
  }

  /** A byte string when every character fits in a byte (Latin-1), else a UTF-8 string. */
  private writeString(value: string): void {
    const start = this.pos;
    this.scalarHeader(value.length, SX_SCALAR, SX_LSCALAR);
    this.ensure(value.length);
    const buf = this.buf;
    let pos = this.pos;
    for (let i = 0; i < value.length; i++) {
      const code = value.charCodeAt(i);
      if (code > 0xff) {
        this.pos = start;
        return this.writeUtf8(value);
      }
      buf[pos++] = code;
    }
    this.pos = pos;
  }

  private writeUtf8(value: string): void {
    const start = this.pos;
    this.ensure(5 + 3 * value.length);
    const end = this.utf8Into(value, start + 5);
    const length = end - start - 5;
    if (length <= 255) {
      this.buf.copyWithin(start + 2, start + 5, end);
      this.buf[start] = SX_UTF8STR;
      this.buf[start + 1] = length;
      this.pos = start + 2 + length;
    } else {
      this.buf[start] = SX_LUTF8STR;
      this.view.setInt32(start + 1, length);
      this.pos = end;
    }
  }

  /** Writes the UTF-8 of `value` at `pos` (room for 3 bytes per UTF-16 unit ensured); returns the end. */
  private utf8Into(value: string, pos: number): number {
    const buf = this.buf;
    for (let i = 0; i < value.length; i++) {
      let code = value.charCodeAt(i);
      if (code < 0x80) {
        buf[pos++] = code;
      } else if (code < 0x800) {
        buf[pos++] = 0xc0 | (code >> 6);
        buf[pos++] = 0x80 | (code & 0x3f);
      } else if (code < 0xd800 || code > 0xdfff) {
        buf[pos++] = 0xe0 | (code >> 12);
        buf[pos++] = 0x80 | ((code >> 6) & 0x3f);
        buf[pos++] = 0x80 | (code & 0x3f);
      } else {
        const low = value.charCodeAt(i + 1);
        if (code > 0xdbff || !(low >= 0xdc00 && low <= 0xdfff)) {
          throw new UnstorableValue(`a string with a lone surrogate U+${code.toString(16).toUpperCase()}, which has no UTF-8 form`);
        }
        code = 0x10000 + ((code - 0xd800) << 10) + (low - 0xdc00);
        i++;
        buf[pos++] = 0xf0 | (code >> 18);
        buf[pos++] = 0x80 | ((code >> 12) & 0x3f);
        buf[pos++] = 0x80 | ((code >> 6) & 0x3f);
        buf[pos++] = 0x80 | (code & 0x3f);
      }
    }
    return pos;
  }

  /** Writes the bytes of a string whose characters all fit in a byte at `pos`; returns the end. */
  private latin1Into(value: string, pos: number): number {
    const buf = this.buf;
    for (let i = 0; i < value.length; i++) buf[pos++] = value.charCodeAt(i);
    return pos;
  }
}
