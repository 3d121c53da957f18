/**
 * Perl's Storable, as Apache::Session::Serialize::Storable uses it: `serialize` is `nfreeze` of the
 * session hash and `unserialize` is `thaw` (network order, and native-order `freeze` streams from
 * x86-64 Linux too). The JS ⇄ Perl value mapping and its losses are in docs/perl-storable-mapping.md;
 * the byte format (the `§` references below) in test/fixtures/storable/FORMAT.md.
 *
 * In short: hashes are plain objects, arrays are arrays, strings are strings (byte strings read as
 * Latin-1), integers are numbers (bigint when a native stream holds one outside the safe range),
 * undef is null, a reference to a scalar is a `PerlRef`, and shared references and cycles keep their
 * identity. What a plain JS value cannot show (the class of a blessed object, the UTF-8 flag of a
 * string, weak references, restricted hashes, immortals, aliases) is remembered per container in a
 * WeakMap, so that unchanged data is written back byte for byte and blessed objects stay blessed.
 */
import { SerializationError, SessionCorruptError } from '@tied/core';
import type { Payload, Serializer } from '@tied/core';

export interface StorableOptions {
  /** Deepest nesting of arrays, hashes and references read or written (default 1000). */
  readonly maxDepth?: number;
  /**
   * How JS booleans are written: `'integers'` (default) as 1 and 0, which every Storable reads;
   * `'native'` as SX_BOOLEAN_TRUE/FALSE, which only Storable ≥ 3.27 (perl ≥ 5.38) reads.
   */
  readonly booleans?: 'integers' | 'native';
  /**
   * How numbers that are not safe integers are written (nfreeze has no double opcode, they are
   * strings): `'perl'` (default) exactly as Perl does, with 15 significant digits (`0.1 + 0.2` →
   * `"0.3"`); `'shortest'` as the shortest text that reads back as the same double.
   */
  readonly doubles?: 'perl' | 'shortest';
  /** Bytes after the frozen object: `'ignore'` them like Perl's `thaw` (default), or `'reject'`. */
  readonly trailingBytes?: 'ignore' | 'reject';
}

export type NfreezeOptions = Pick<StorableOptions, 'maxDepth' | 'booleans' | 'doubles'>;
export type ThawOptions = Pick<StorableOptions, 'maxDepth' | 'trailingBytes'>;

const DEFAULT_MAX_DEPTH = 1000;

/**
 * A Perl reference to a scalar (`\"x"`, `\42`, `\\@list`). It is a box so that two references to the
 * same scalar stay one object, and so that it can be blessed.
 */
export class PerlRef<T = unknown> {
  constructor(public value: T) {}
}

/** Bits of `PerlDetails.forms`: how Perl wrote a slot's value where the JS value cannot show it. */
export const SlotForm = {
  /** A string with Perl's UTF-8 flag on (SX_UTF8STR) although all its characters fit in a byte. */
  UTF8: 1,
  /** Perl's immortal undef, PL_sv_undef (SX_SV_UNDEF), read as null. */
  SV_UNDEF: 2,
  /** Perl's immortal true, PL_sv_yes (SX_SV_YES), read as true. */
  SV_YES: 3,
  /** Perl's immortal false, PL_sv_no (SX_SV_NO), read as false. */
  SV_NO: 4,
  /** An array element that is PL_sv_undef itself (SX_SVUNDEF_ELEM), read as null. */
  SVUNDEF_ELEM: 5,
  /** A Storable ≥ 3.27 boolean (SX_BOOLEAN_TRUE/FALSE). */
  BOOLEAN: 6,
  /** Mask of the scalar forms above. */
  SCALAR: 7,
  /** A weakened reference (SX_WEAKREF). */
  WEAK: 8,
  /** A reference to an object of a class with `use overload` (SX_OVERLOAD). */
  OVERLOADED: 16,
  /** Another slot is an alias of this one (see `PerlDetails.aliases`). */
  ALIASED: 32,
} as const;

type SlotKey = string | number;

/** What thaw remembers about how Perl wrote a container (hash, array or PerlRef), read with `perlDetails`. */
export interface PerlDetails {
  /** The package the container is blessed into. */
  readonly className?: string;
  /** Present when the hash was an SX_FLAG_HASH: its hash flags (1 = restricted). */
  readonly hashFlags?: number;
  /**
   * SX_FLAG_HASH key flags that differ from the default (1 for keys with characters above U+00FF,
   * else 0), including restricted-hash placeholders (flag 0x10) that are not keys of the JS object.
   */
  readonly keyFlags?: ReadonlyMap<string, number>;
  /** `SlotForm` bits by key (hash) or index (array); `'value'` for a PerlRef. */
  readonly forms?: ReadonlyMap<SlotKey, number>;
  /** Slots that were a bare SX_OBJECT, the same Perl scalar as the slot `[container, key]`. */
  readonly aliases?: ReadonlyMap<SlotKey, readonly [object, SlotKey]>;
}

interface Details {
  className?: string;
  hashFlags?: number;
  keyFlags?: Map<string, number>;
  forms?: Map<SlotKey, number>;
  aliases?: Map<SlotKey, readonly [object, SlotKey]>;
}

const detailsByContainer = new WeakMap<object, Details>();

function detailsFor(container: object): Details {
  let details = detailsByContainer.get(container);
  if (details === undefined) detailsByContainer.set(container, details = {});
  return details;
}

/** How Perl wrote `container`, as far as the JS value cannot show it; undefined when nothing is special. */
export function perlDetails(container: object): PerlDetails | undefined {
  return detailsByContainer.get(container);
}

/** Perl's `bless`: marks a hash, array or PerlRef as an object of `className`, which nfreeze writes. */
export function bless<T extends object>(container: T, className: string): T {
  detailsFor(container).className = className;
  return container;
}

/** Perl's `Scalar::Util::blessed`: the class of a blessed container, else undefined. */
export function blessed(value: unknown): string | undefined {
  return typeof value === 'object' && value !== null ? detailsByContainer.get(value)?.className : undefined;
}

// ---------------------------------------------------------------------------------------------------
// Opcodes (FORMAT.md §3)

const SX_OBJECT = 0x00;
const SX_LSCALAR = 0x01;
const SX_ARRAY = 0x02;
const SX_HASH = 0x03;
const SX_REF = 0x04;
const SX_UNDEF = 0x05;
const SX_INTEGER = 0x06;
const SX_DOUBLE = 0x07;
const SX_BYTE = 0x08;
const SX_NETINT = 0x09;
const SX_SCALAR = 0x0a;
const SX_SV_UNDEF = 0x0e;
const SX_SV_YES = 0x0f;
const SX_SV_NO = 0x10;
const SX_BLESS = 0x11;
const SX_IX_BLESS = 0x12;
const SX_OVERLOAD = 0x14;
const SX_UTF8STR = 0x17;
const SX_LUTF8STR = 0x18;
const SX_FLAG_HASH = 0x19;
const SX_WEAKREF = 0x1b;
const SX_WEAKOVERLOAD = 0x1c;
const SX_SVUNDEF_ELEM = 0x1f;
const SX_BOOLEAN_TRUE = 0x22;
const SX_BOOLEAN_FALSE = 0x23;

const OPCODE_NAMES = [
  'SX_OBJECT', 'SX_LSCALAR', 'SX_ARRAY', 'SX_HASH', 'SX_REF', 'SX_UNDEF', 'SX_INTEGER', 'SX_DOUBLE',
  'SX_BYTE', 'SX_NETINT', 'SX_SCALAR', 'SX_TIED_ARRAY', 'SX_TIED_HASH', 'SX_TIED_SCALAR', 'SX_SV_UNDEF',
  'SX_SV_YES', 'SX_SV_NO', 'SX_BLESS', 'SX_IX_BLESS', 'SX_HOOK', 'SX_OVERLOAD', 'SX_TIED_KEY',
  'SX_TIED_IDX', 'SX_UTF8STR', 'SX_LUTF8STR', 'SX_FLAG_HASH', 'SX_CODE', 'SX_WEAKREF', 'SX_WEAKOVERLOAD',
  'SX_VSTRING', 'SX_LVSTRING', 'SX_SVUNDEF_ELEM', 'SX_REGEXP', 'SX_LOBJECT', 'SX_BOOLEAN_TRUE',
  'SX_BOOLEAN_FALSE',
];

/** Opcodes a session codec refuses (FORMAT.md §8), with the reason. */
const UNSUPPORTED: Record<number, string> = {
  0x0b: 'tied variables are not supported',
  0x0c: 'tied variables are not supported',
  0x0d: 'tied variables are not supported',
  0x13: 'objects of classes with a STORABLE_freeze hook are not supported',
  0x15: 'references to elements of tied hashes are not supported',
  0x16: 'references to elements of tied arrays are not supported',
  0x1a: 'code references are not supported',
  0x1d: 'v-strings are not supported',
  0x1e: 'v-strings are not supported',
  0x20: 'regular expressions are not supported',
  0x21: 'objects of 2 GiB or more are not supported',
};

function opcodeName(op: number): string {
  const hex = `0x${op.toString(16).padStart(2, '0')}`;
  const name = OPCODE_NAMES[op];
  return name === undefined ? `unknown opcode ${hex}` : `${name} (${hex})`;
}

/** SX_FLAG_HASH key flags (FORMAT.md §6.3). */
const KEY_UTF8 = 0x01;
const KEY_IS_SV = 0x08;
const KEY_PLACEHOLDER = 0x10;

const REF_FORMS: Record<number, number> = {
  [SX_REF]: 0,
  [SX_OVERLOAD]: SlotForm.OVERLOADED,
  [SX_WEAKREF]: SlotForm.WEAK,
  [SX_WEAKOVERLOAD]: SlotForm.WEAK | SlotForm.OVERLOADED,
};

const BOX_KEY = 'value';

// ---------------------------------------------------------------------------------------------------
// thaw

/**
 * Perl's `thaw`: the value whose reference `bytes` holds. A hash or array comes back as itself, a
 * scalar as a `PerlRef`. Throws `SessionCorruptError` for anything that is not a Storable image this
 * codec supports.
 */
export function thaw(bytes: Uint8Array, options: ThawOptions = {}): unknown {
  return new Reader(bytes, options).readImage();
}

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

/** The value in a container slot, or null when the slot is not (yet) there. */
function slotValue(holder: object, key: SlotKey | undefined): unknown {
  if (key === undefined || !Object.hasOwn(holder, key)) return null;
  return (holder as Record<SlotKey, unknown>)[key] ?? null;
}

// ---------------------------------------------------------------------------------------------------
// nfreeze

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

/** A value with no Perl form; collects the path to it on the way up. */
class UnstorableValue extends Error {
  readonly path: string[] = [];
  constructor(readonly problem: string) {
    super(problem);
  }
}

function withPathSegment(error: unknown, key: SlotKey): unknown {
  if (error instanceof UnstorableValue) {
    error.path.unshift(typeof key === 'number' ? `[${key}]` : /^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`);
  }
  return error;
}

/** What kind of JS value this is, for messages. */
function describe(value: unknown): string {
  switch (typeof value) {
    case 'function': return 'a function';
    case 'symbol': return 'a symbol';
    case 'bigint': return 'a bigint';
    case 'object': {
      if (value === null) return 'null';
      const name = (value as { constructor?: { name?: unknown } }).constructor?.name;
      if (typeof name !== 'string' || name === '') return 'an object with a prototype';
      return `${/^[AEIO]/.test(name) ? 'an' : 'a'} ${name}`;
    }
    case 'undefined': return 'undefined';
    default: return `a ${typeof value}`;
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

const INT64_MIN = -(2n ** 63n);
const UINT64_MAX = 2n ** 64n - 1n;

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
    const details = detailsByContainer.get(referent);
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

  private writeArray(array: unknown[], details: Details | undefined): void {
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

  private writeHash(hash: Record<string, unknown>, details: Details | undefined): void {
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
  private writeSlot(holder: object, key: SlotKey, value: unknown, details: Details | undefined): void {
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

function hasWideChar(value: string): boolean {
  for (let i = 0; i < value.length; i++) if (value.charCodeAt(i) > 0xff) return true;
  return false;
}

/**
 * Perl's `cmp` (`$Storable::canonical`): code point order. That is UTF-16 order except where a
 * surrogate meets U+E000..U+FFFF, which the fix-up below moves below the surrogates.
 */
function compareCodePoints(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x !== y) {
      if (x >= 0xd800 && y >= 0xd800) {
        x += x >= 0xe000 ? -0x800 : 0x2000;
        y += y >= 0xe000 ? -0x800 : 0x2000;
      }
      return x - y;
    }
  }
  return a.length - b.length;
}

// ---------------------------------------------------------------------------------------------------
// Doubles as nfreeze writes them (FORMAT.md §4.4)

/** Perl's stringification of a double: C's `%.15g`, ties rounded to even as glibc does. */
export function perlDouble(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (!Number.isFinite(value)) return value > 0 ? 'Inf' : '-Inf';
  const magnitude = Math.abs(value);
  let rounded = magnitude.toExponential(14); // d.dddddddddddddde±x: 15 digits, ties away from zero
  const longer = magnitude.toExponential(15);
  if (longer[16] === '5' && isExactly(magnitude, longer)) {
    // An exact tie: round to even, which means keeping the truncation when its last digit is even.
    if ((longer.charCodeAt(15) - 48) % 2 === 0) rounded = longer.slice(0, 16) + longer.slice(17);
  }
  const e = rounded.indexOf('e');
  const digits = (rounded[0]! + rounded.slice(2, e)).replace(/0+$/, '');
  return (value < 0 ? '-' : '') + formatG(digits, Number(rounded.slice(e + 1)), 15);
}

/** `%.{precision}g` of the significant `digits` (no trailing zeros) times 10^exponent (of the first digit). */
function formatG(digits: string, exponent: number, precision: number): string {
  if (exponent < -4 || exponent >= precision) {
    const mantissa = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    const size = Math.abs(exponent);
    return `${mantissa}e${exponent < 0 ? '-' : '+'}${size < 10 ? '0' : ''}${size}`;
  }
  if (exponent < 0) return `0.${'0'.repeat(-exponent - 1)}${digits}`;
  const whole = digits.slice(0, exponent + 1).padEnd(exponent + 1, '0');
  const fraction = digits.slice(exponent + 1);
  return fraction === '' ? whole : `${whole}.${fraction}`;
}

const doubleBits = new DataView(new ArrayBuffer(8));

/** Whether the positive double equals the decimal in `exponential` (JS `toExponential` text) exactly. */
function isExactly(value: number, exponential: string): boolean {
  const e = exponential.indexOf('e');
  const fraction = exponential.slice(2, e);
  let decimal = BigInt(exponential[0]! + fraction);
  const decimalExponent = Number(exponential.slice(e + 1)) - fraction.length;
  doubleBits.setFloat64(0, value);
  const biased = (doubleBits.getUint32(0) >>> 20) & 0x7ff;
  let binary = (BigInt(doubleBits.getUint32(0) & 0xfffff) << 32n) | BigInt(doubleBits.getUint32(4));
  if (biased !== 0) binary |= 1n << 52n;
  const binaryExponent = (biased === 0 ? 1 : biased) - 1075;
  if (binaryExponent >= 0) binary <<= BigInt(binaryExponent);
  else decimal <<= BigInt(-binaryExponent);
  if (decimalExponent >= 0) decimal *= 10n ** BigInt(decimalExponent);
  else binary *= 10n ** BigInt(-decimalExponent);
  return binary === decimal;
}

/** The shortest text that reads back as the same double, in words Perl numifies. */
function shortestDouble(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (!Number.isFinite(value)) return value > 0 ? 'Inf' : '-Inf';
  return String(value);
}

// ---------------------------------------------------------------------------------------------------

/** A binary payload given as text holds one byte per character. */
function payloadBytes(data: Payload): Uint8Array {
  if (typeof data !== 'string') return data;
  if (hasWideChar(data)) throw new SessionCorruptError('Storable data given as text has characters above U+00FF, so it is not bytes');
  return Buffer.from(data, 'latin1');
}

function isPlainHash(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof PerlRef);
}

/**
 * Apache::Session::Serialize::Storable: `nfreeze` of the session hash, read back with `thaw`.
 * The stored image must hold a hash; its root may be blessed (kept, see `blessed`).
 */
export function storable(options: StorableOptions = {}): Serializer {
  return {
    name: 'storable',
    output: 'binary',
    serialize: (value) => nfreeze(value, options),
    unserialize: (data) => {
      const root = thaw(payloadBytes(data), options);
      if (!isPlainHash(root)) {
        throw new SessionCorruptError(`Storable data holds ${Array.isArray(root) ? 'an array' : 'a scalar reference'}, not a session hash`);
      }
      return root;
    },
  };
}
