/**
 * What a plain JS value cannot show of a Perl value: `PerlRef` for a reference to a scalar, and the
 * `PerlDetails` (class, hash flags, slot forms, aliases) that thaw remembers per container in a
 * WeakMap, so that nfreeze writes unchanged data back byte for byte and blessed objects stay blessed.
 */

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

/** A slot of a container: a hash key, an array index, or `BOX_KEY` for a PerlRef. */
export type SlotKey = string | number;

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

/** The mutable `PerlDetails`, as thaw and `bless` fill them in. */
export interface Details {
  className?: string;
  hashFlags?: number;
  keyFlags?: Map<string, number>;
  forms?: Map<SlotKey, number>;
  aliases?: Map<SlotKey, readonly [object, SlotKey]>;
}

const detailsByContainer = new WeakMap<object, Details>();

export function detailsFor(container: object): Details {
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

/** The key under which `PerlDetails` of a PerlRef hold the forms of its value. */
export const BOX_KEY = 'value';

/** The value in a container slot, or null when the slot is not (yet) there. */
export function slotValue(holder: object, key: SlotKey | undefined): unknown {
  if (key === undefined || !Object.hasOwn(holder, key)) return null;
  return (holder as Record<SlotKey, unknown>)[key] ?? null;
}
