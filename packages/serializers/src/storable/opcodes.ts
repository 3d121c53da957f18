/** Storable's opcodes (test/fixtures/storable/FORMAT.md §3), their names for messages, and the ones refused. */

export const SX_OBJECT = 0x00;
export const SX_LSCALAR = 0x01;
export const SX_ARRAY = 0x02;
export const SX_HASH = 0x03;
export const SX_REF = 0x04;
export const SX_UNDEF = 0x05;
export const SX_INTEGER = 0x06;
export const SX_DOUBLE = 0x07;
export const SX_BYTE = 0x08;
export const SX_NETINT = 0x09;
export const SX_SCALAR = 0x0a;
export const SX_SV_UNDEF = 0x0e;
export const SX_SV_YES = 0x0f;
export const SX_SV_NO = 0x10;
export const SX_BLESS = 0x11;
export const SX_IX_BLESS = 0x12;
export const SX_OVERLOAD = 0x14;
export const SX_UTF8STR = 0x17;
export const SX_LUTF8STR = 0x18;
export const SX_FLAG_HASH = 0x19;
export const SX_WEAKREF = 0x1b;
export const SX_WEAKOVERLOAD = 0x1c;
export const SX_SVUNDEF_ELEM = 0x1f;
export const SX_BOOLEAN_TRUE = 0x22;
export const SX_BOOLEAN_FALSE = 0x23;

const OPCODE_NAMES = [
  'SX_OBJECT', 'SX_LSCALAR', 'SX_ARRAY', 'SX_HASH', 'SX_REF', 'SX_UNDEF', 'SX_INTEGER', 'SX_DOUBLE',
  'SX_BYTE', 'SX_NETINT', 'SX_SCALAR', 'SX_TIED_ARRAY', 'SX_TIED_HASH', 'SX_TIED_SCALAR', 'SX_SV_UNDEF',
  'SX_SV_YES', 'SX_SV_NO', 'SX_BLESS', 'SX_IX_BLESS', 'SX_HOOK', 'SX_OVERLOAD', 'SX_TIED_KEY',
  'SX_TIED_IDX', 'SX_UTF8STR', 'SX_LUTF8STR', 'SX_FLAG_HASH', 'SX_CODE', 'SX_WEAKREF', 'SX_WEAKOVERLOAD',
  'SX_VSTRING', 'SX_LVSTRING', 'SX_SVUNDEF_ELEM', 'SX_REGEXP', 'SX_LOBJECT', 'SX_BOOLEAN_TRUE',
  'SX_BOOLEAN_FALSE',
];

/** Opcodes a session codec refuses (FORMAT.md §8), with the reason. */
export const UNSUPPORTED: Record<number, string> = {
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

/** An opcode as messages name it: `SX_HOOK (0x13)`, or `unknown opcode 0x2a`. */
export function opcodeName(op: number): string {
  const hex = `0x${op.toString(16).padStart(2, '0')}`;
  const name = OPCODE_NAMES[op];
  return name === undefined ? `unknown opcode ${hex}` : `${name} (${hex})`;
}

/** SX_FLAG_HASH key flags (FORMAT.md §6.3). */
export const KEY_UTF8 = 0x01;
export const KEY_IS_SV = 0x08;
export const KEY_PLACEHOLDER = 0x10;
