/**
 * Perl's Storable, as Apache::Session::Serialize::Storable uses it: `serialize` is `nfreeze` of the
 * session hash and `unserialize` is `thaw` (network order, and native-order `freeze` streams from
 * x86-64 Linux too). The JS ⇄ Perl value mapping and its losses are in docs/perl-storable-mapping.md;
 * the byte format (the `§` references in the modules) in test/fixtures/storable/FORMAT.md.
 *
 * In short: hashes are plain objects, arrays are arrays, strings are strings (byte strings read as
 * Latin-1), integers are numbers (bigint when a native stream holds one outside the safe range),
 * undef is null, a reference to a scalar is a `PerlRef`, and shared references and cycles keep their
 * identity. What a plain JS value cannot show (the class of a blessed object, the UTF-8 flag of a
 * string, weak references, restricted hashes, immortals, aliases) is remembered per container in a
 * WeakMap, so that unchanged data is written back byte for byte and blessed objects stay blessed.
 *
 * This file is the public entry; the parts live in storable/: reader.ts (`thaw`), writer.ts
 * (`nfreeze`), values.ts (`PerlRef`, `bless`, `perlDetails`), numbers.ts (Perl's text of doubles),
 * opcodes.ts, strings.ts, unstorable.ts (the writer's error) and options.ts.
 */
import { SessionCorruptError } from '@tied/core';
import type { Payload, Serializer } from '@tied/core';
import type { StorableOptions } from './storable/options.js';
import { thaw } from './storable/reader.js';
import { hasWideChar } from './storable/strings.js';
import { PerlRef } from './storable/values.js';
import { nfreeze } from './storable/writer.js';

export type { NfreezeOptions, StorableOptions, ThawOptions } from './storable/options.js';
export { PerlRef, SlotForm, bless, blessed, perlDetails, type PerlDetails } from './storable/values.js';
export { perlDouble } from './storable/numbers.js';
export { nfreeze, thaw };

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
