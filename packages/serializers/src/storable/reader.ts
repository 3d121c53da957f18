/**
 * Perl's `thaw`: the Reader walks a Storable image (test/fixtures/storable/FORMAT.md, the `§`
 * references below) and builds the JS values, remembering in `PerlDetails` what they cannot show.
 */
import { SessionCorruptError } from '@tied/core';
import {
  KEY_IS_SV, KEY_PLACEHOLDER, KEY_UTF8, SX_ARRAY, SX_BLESS, SX_BOOLEAN_FALSE, SX_BOOLEAN_TRUE, SX_BYTE,
  SX_DOUBLE, SX_FLAG_HASH, SX_HASH, SX_INTEGER, SX_IX_BLESS, SX_LSCALAR, SX_LUTF8STR, SX_NETINT,
  SX_OBJECT, SX_OVERLOAD, SX_REF, SX_SCALAR, SX_SVUNDEF_ELEM, SX_SV_NO, SX_SV_UNDEF, SX_SV_YES,
  SX_UNDEF, SX_UTF8STR, SX_WEAKOVERLOAD, SX_WEAKREF, UNSUPPORTED, opcodeName,
} from './opcodes.js';
import { DEFAULT_MAX_DEPTH, type ThawOptions } from './options.js';
import { hasWideChar } from './strings.js';
import { BOX_KEY, PerlRef, SlotForm, bless, detailsFor, slotValue, type Details, type SlotKey } from './values.js';

/**
 * Perl's `thaw`: the value whose reference `bytes` holds. A hash or array comes back as itself, a
 * scalar as a `PerlRef`. Throws `SessionCorruptError` for anything that is not a Storable image this
 * codec supports.
 */
export function thaw(bytes: Uint8Array, options: ThawOptions = {}): unknown {
  return new Reader(bytes, options).readImage();
}

/** `SlotForm` bits of the reference opcodes. */
const REF_FORMS: Record<number, number> = {
  [SX_REF]: 0,
  [SX_OVERLOAD]: SlotForm.OVERLOADED,
  [SX_WEAKREF]: SlotForm.WEAK,
  [SX_WEAKOVERLOAD]: SlotForm.WEAK | SlotForm.OVERLOADED,
};

const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Hash keys decoded before, by a hash of their bytes (see `Reader.key`). */
const internedKeys = new Map<number, string>();
const MAX_INTERNED_KEY = 32;
const MAX_INTERNED_KEYS = 4096;

class Reader {
  private pos = 0;
  private readonly view: DataView;
  /** The same bytes as a Buffer, for its fast Latin-1 decoding. */
  private readonly text: Buffer;
  private littleEndian = false;
  private network = true;
  private depth = 0;
  private readonly maxDepth: number;
  /** Per tag (FORMAT.md §7.1): what a reference to the SV is, once known (container or PerlRef). */
  private readonly targets: (object | undefined)[] = [];
  /** Per tag, for scalars: the container holding the SV, and its key there. */
  private readonly holders: (object | undefined)[] = [];
  private readonly keys: (SlotKey | undefined)[] = [];
  private readonly classes: string[] = [];
  /** How the slot value just read was written, for its container to remember. */
  private form = 0;
  private aliasOf: readonly [object, SlotKey] | undefined;
  private lastContainer: object | undefined;
  private lastDetails: Details | undefined;

  constructor(private readonly bytes: Uint8Array, private readonly options: ThawOptions) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.maxDepth = options.maxDepth ?? DEFAULT_MAX_DEPTH;
  }

  readImage(): unknown {
    this.readHeader();
    const root = this.readReferent();
    if (this.pos < this.bytes.length && this.options.trailingBytes === 'reject') {
      this.fail(`${this.bytes.length - this.pos} bytes after the frozen object`);
    }
    return root;
  }

  private fail(problem: string, at = this.pos): never {
    throw new SessionCorruptError(`Storable data corrupt at byte ${at}: ${problem}`);
  }

  private readHeader(): void {
    if (this.bytes.length < 2) this.fail(`${this.bytes.length} bytes are too short for a Storable header`, 0);
    const first = this.u8();
    if (first === 0x70 && this.text.toString('latin1', 0, 4) === 'pst0') {
      this.fail('"pst0" starts a Storable file written by store(), not a frozen string', 0);
    }
    const major = first >> 1;
    if (major !== 2) this.fail(`unsupported Storable major version ${major} (header byte 0x${first.toString(16)})`, 0);
    const minor = this.u8();
    if (minor > 12) this.fail(`unsupported Storable minor version ${minor}`, 1);
    if ((first & 1) === 0) this.readNativeHeader(minor);
  }

  /** A `freeze` header: the writer's byte order and sizes, which must be those of 64-bit Linux. */
  private readNativeHeader(minor: number): void {
    this.network = false;
    const order = this.latin1(this.u8());
    if (order === '12345678') this.littleEndian = true;
    else if (order !== '87654321') this.fail(`native byte order "${order}" is not supported (only 64-bit integers)`);
    this.need(minor >= 2 ? 4 : 3);
    const intSize = this.u8();
    this.pos += 2; // sizeof(long), sizeof(char *): they do not change the layout
    const nvSize = minor >= 2 ? this.u8() : 8;
    if (intSize !== 4 || nvSize !== 8) this.fail(`native sizes int=${intSize}, double=${nvSize} are not supported`);
  }

  // -- primitive reads ------------------------------------------------------------------------------

  private need(n: number): void {
    if (n > this.bytes.length - this.pos) this.fail(`needs ${n} bytes, ${this.bytes.length - this.pos} left`);
  }

  private u8(): number {
    this.need(1);
    return this.bytes[this.pos++]!;
  }

  /** A big-endian u32: SX_OBJECT tags are big-endian even in native streams. */
  private tag(): number {
    this.need(4);
    const tag = this.view.getUint32(this.pos);
    this.pos += 4;
    return tag;
  }

  /** A non-negative `len` field in the stream's byte order. */
  private len(): number {
    this.need(4);
    const n = this.view.getInt32(this.pos, this.littleEndian);
    if (n < 0) this.fail(`negative length ${n}`);
    this.pos += 4;
    return n;
  }

  /** `len` bytes that must all be present: never trust a length the input merely claims. */
  private span(len: number): number {
    if (len > this.bytes.length - this.pos) this.fail(`length ${len} exceeds the ${this.bytes.length - this.pos} bytes left`);
    const start = this.pos;
    this.pos += len;
    return start;
  }

  private latin1(len: number): string {
    const start = this.span(len);
    return this.text.toString('latin1', start, this.pos);
  }

  /** A Latin-1 hash key: the same few keys come in every session, so short ones are interned. */
  private key(len: number): string {
    if (len > MAX_INTERNED_KEY) return this.latin1(len);
    const start = this.span(len);
    const bytes = this.bytes;
    let hash = len;
    for (let i = start; i < this.pos; i++) hash = Math.imul(hash ^ bytes[i]!, 0x01000193);
    const known = internedKeys.get(hash);
    if (known !== undefined && known.length === len) {
      let i = 0;
      while (i < len && known.charCodeAt(i) === bytes[start + i]) i++;
      if (i === len) return known;
    }
    if (internedKeys.size >= MAX_INTERNED_KEYS) internedKeys.clear();
    const key = this.text.toString('latin1', start, this.pos);
    internedKeys.set(hash, key);
    return key;
  }

  private utf8(len: number): string {
    const start = this.span(len);
    const end = this.pos;
    let i = start;
    while (i < end && this.bytes[i]! < 0x80) i++;
    if (i === end) return this.text.toString('latin1', start, end);
    try {
      return utf8Decoder.decode(this.bytes.subarray(start, end));
    } catch {
      return this.fail('invalid UTF-8 in a UTF-8 string', start);
    }
  }

  /** The length or index after SX_BLESS / SX_IX_BLESS: a byte, or 0x80 and a `len`. */
  private smallLen(): number {
    const n = this.u8();
    return n & 0x80 ? this.len() : n;
  }

  // -- tags -----------------------------------------------------------------------------------------

  private newContainer(container: object): void {
    this.targets.push(container);
    this.holders.push(undefined);
    this.keys.push(undefined);
  }

  /** A scalar SV in a slot of `holder`; a hash slot's key is filled in once it has been read. */
  private newScalar(holder: object, key: SlotKey | undefined): void {
    this.targets.push(holder instanceof PerlRef ? holder : undefined);
    this.holders.push(holder);
    this.keys.push(key);
  }

  private checkTag(tag: number): void {
    if (tag >= this.targets.length) {
      this.fail(`SX_OBJECT refers to tag ${tag}, but only ${this.targets.length} values were read`, this.pos - 4);
    }
  }

  /** `04 00 <tag>`: a reference to an SV read before. */
  private refTo(tag: number): object {
    this.checkTag(tag);
    const target = this.targets[tag];
    if (target !== undefined) return target;
    // A scalar in a hash or array slot: JS cannot point into a slot, so the reference becomes a
    // PerlRef holding a copy of the value (shared by every later reference to it).
    const box = new PerlRef(slotValue(this.holders[tag]!, this.keys[tag]));
    this.targets[tag] = box;
    return box;
  }

  /** A bare SX_OBJECT in a slot: the same SV as another slot (aliasing). */
  private readAlias(): unknown {
    const tag = this.tag();
    this.checkTag(tag);
    const holder = this.holders[tag];
    const key = this.keys[tag];
    this.aliasOf = holder === undefined || key === undefined ? undefined : [holder, key];
    return holder === undefined ? this.targets[tag] : slotValue(holder, key);
  }

  // -- objects --------------------------------------------------------------------------------------

  /**
   * The referent of a reference (or the root): a container, or a scalar that becomes a PerlRef.
   * Every nesting passes through here, so this is where depth is limited.
   */
  private readReferent(): object {
    if (++this.depth > this.maxDepth) this.fail(`nesting deeper than ${this.maxDepth} levels`);
    const at = this.pos;
    const op = this.u8();
    let referent: object;
    switch (op) {
      case SX_ARRAY: referent = this.readArray(); break;
      case SX_HASH: referent = this.readHash(false); break;
      case SX_FLAG_HASH: referent = this.readHash(true); break;
      case SX_OBJECT: referent = this.refTo(this.tag()); break;
      case SX_BLESS: {
        const className = this.latin1(this.smallLen());
        this.classes.push(className);
        referent = bless(this.readReferent(), className);
        break;
      }
      case SX_IX_BLESS: {
        const index = this.smallLen();
        const className = this.classes[index];
        if (className === undefined) this.fail(`SX_IX_BLESS class index ${index}, but only ${this.classes.length} classes were named`, at);
        referent = bless(this.readReferent(), className);
        break;
      }
      default: {
        this.pos = at;
        const box = new PerlRef<unknown>(null);
        box.value = this.readSlot(box, BOX_KEY);
        this.remember(box, BOX_KEY);
        referent = box;
      }
    }
    this.depth--;
    return referent;
  }

  /** One SV in a slot; `this.form` and `this.aliasOf` tell how it was written. */
  private readSlot(holder: object, key: SlotKey | undefined): unknown {
    const at = this.pos;
    const op = this.u8();
    switch (op) {
      case SX_REF:
      case SX_OVERLOAD:
      case SX_WEAKREF:
      case SX_WEAKOVERLOAD: {
        this.newScalar(holder, key);
        const referent = this.readReferent();
        this.form = REF_FORMS[op]!;
        this.aliasOf = undefined;
        return referent;
      }
      case SX_OBJECT: {
        this.form = 0;
        return this.readAlias();
      }
      case SX_ARRAY:
      case SX_HASH:
      case SX_FLAG_HASH: {
        // Perl writes containers only behind a reference; a bare one is read as if referenced.
        this.pos = at;
        const container = this.readReferent();
        this.form = 0;
        this.aliasOf = undefined;
        return container;
      }
      default:
        this.aliasOf = undefined;
        this.newScalar(holder, key);
        return this.readScalar(op, at);
    }
  }

  private readScalar(op: number, at: number): unknown {
    this.form = 0;
    switch (op) {
      case SX_UNDEF: return null;
      case SX_SV_UNDEF: this.form = SlotForm.SV_UNDEF; return null;
      case SX_SVUNDEF_ELEM: this.form = SlotForm.SVUNDEF_ELEM; return null;
      case SX_SV_YES: this.form = SlotForm.SV_YES; return true;
      case SX_SV_NO: this.form = SlotForm.SV_NO; return false;
      case SX_BOOLEAN_TRUE: this.form = SlotForm.BOOLEAN; return true;
      case SX_BOOLEAN_FALSE: this.form = SlotForm.BOOLEAN; return false;
      case SX_BYTE: return this.u8() - 128;
      case SX_NETINT: {
        this.need(4);
        const n = this.view.getInt32(this.pos);
        this.pos += 4;
        return n;
      }
      case SX_SCALAR: return this.latin1(this.u8());
      case SX_LSCALAR: return this.latin1(this.len());
      case SX_UTF8STR: this.form = SlotForm.UTF8; return this.utf8(this.u8());
      case SX_LUTF8STR: this.form = SlotForm.UTF8; return this.utf8(this.len());
      case SX_INTEGER: {
        this.nativeOnly(op, at);
        const n = this.view.getBigInt64(this.pos, this.littleEndian);
        this.pos += 8;
        return n >= -9007199254740991n && n <= 9007199254740991n ? Number(n) : n;
      }
      case SX_DOUBLE: {
        this.nativeOnly(op, at);
        const x = this.view.getFloat64(this.pos, this.littleEndian);
        this.pos += 8;
        return x;
      }
      case SX_BLESS:
      case SX_IX_BLESS:
        return this.fail(`${opcodeName(op)} of a value that is not behind a reference is not supported`, at);
      default: {
        const reason = UNSUPPORTED[op];
        return this.fail(reason === undefined ? opcodeName(op) : `${opcodeName(op)}: ${reason}`, at);
      }
    }
  }

  /** SX_INTEGER / SX_DOUBLE hold 8 bytes in the writer's byte order, which only a native header tells. */
  private nativeOnly(op: number, at: number): void {
    if (this.network) this.fail(`${opcodeName(op)} in a network-order stream, whose byte order it does not tell`, at);
    this.need(8);
  }

  /** `detailsFor`, skipping the WeakMap while the slots of one container are remembered in turn. */
  private detailsOf(container: object): Details {
    if (container !== this.lastContainer) {
      this.lastContainer = container;
      this.lastDetails = detailsFor(container);
    }
    return this.lastDetails!;
  }

  /** Remembers how the slot just read was written, on its container. */
  private remember(holder: object, key: SlotKey): void {
    if (this.form !== 0) (this.detailsOf(holder).forms ??= new Map()).set(key, this.form);
    if (this.aliasOf !== undefined) {
      const [target, targetKey] = this.aliasOf;
      (this.detailsOf(holder).aliases ??= new Map()).set(key, this.aliasOf);
      const forms = this.detailsOf(target).forms ??= new Map();
      forms.set(targetKey, (forms.get(targetKey) ?? 0) | SlotForm.ALIASED);
      this.aliasOf = undefined;
    }
  }

  private readArray(): unknown[] {
    const array: unknown[] = [];
    this.newContainer(array);
    const count = this.len();
    // Every element takes at least one byte: a count the input cannot hold is refused up front.
    if (count > this.bytes.length - this.pos) this.fail(`array of ${count} elements in ${this.bytes.length - this.pos} bytes`);
    for (let i = 0; i < count; i++) {
      const value = this.readSlot(array, i);
      if (this.form === SlotForm.SV_UNDEF) {
        array.length = i + 1; // a non-existent element: a hole
      } else {
        array.push(value);
        this.remember(array, i);
      }
    }
    return array;
  }

  private readHash(flagged: boolean): Record<string, unknown> {
    const hash: Record<string, unknown> = {};
    this.newContainer(hash);
    const details = flagged ? this.detailsOf(hash) : undefined;
    if (details !== undefined) details.hashFlags = this.u8();
    const count = this.len();
    const entrySize = flagged ? 6 : 5;
    if (count > (this.bytes.length - this.pos) / entrySize) {
      this.fail(`hash of ${count} entries in ${this.bytes.length - this.pos} bytes`);
    }
    for (let i = 0; i < count; i++) {
      const tag = this.targets.length;
      const value = this.readSlot(hash, undefined);
      const keyFlags = flagged ? this.u8() : 0;
      if (keyFlags & KEY_IS_SV) this.fail(`hash key flags 0x${keyFlags.toString(16)}: keys stored as values are not supported`, this.pos - 1);
      const key = keyFlags & KEY_UTF8 ? this.utf8(this.len()) : this.key(this.len());
      if (this.targets.length > tag && this.holders[tag] === hash) this.keys[tag] = key;
      if (details !== undefined && keyFlags !== (hasWideChar(key) ? KEY_UTF8 : 0)) {
        (details.keyFlags ??= new Map()).set(key, keyFlags);
      }
      if (keyFlags & KEY_PLACEHOLDER) continue; // a restricted hash's allowed but absent key
      if (key === '__proto__') {
        Object.defineProperty(hash, key, { value, writable: true, enumerable: true, configurable: true });
      } else {
        hash[key] = value;
      }
      this.remember(hash, key);
    }
    return hash;
  }
}
