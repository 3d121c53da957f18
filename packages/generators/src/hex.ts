import { randomBytes } from 'node:crypto';
import type { Generator } from '@tied/core';
import { assertIdShape } from './validate.js';

/**
 * Hex ids from crypto-random bytes, compatible with Apache::Session::Generate::MD5: `length`
 * characters (default 32, Perl's IDLength, which may be anything from 1). Ids of any length are
 * accepted, as Perl's validate does, but in one spelling only: lower case, as md5_hex writes them.
 * Perl's /^[a-fA-F0-9]+$/ also took upper case, and an id and its upper-case form would then name
 * one row of a case-insensitive char(32) column under two different locks.
 */
export function hex(options: { length?: number } = {}): Generator {
  const length = options.length ?? 32;
  if (!Number.isInteger(length) || length < 1 || length > 128) throw new RangeError(`hex length must be an integer from 1 to 128, got ${length}`);
  return {
    name: 'hex',
    generate: () => randomBytes(Math.ceil(length / 2)).toString('hex').slice(0, length),
    validate(id: unknown): asserts id is string {
      assertIdShape(id, 'hex', /^[0-9a-f]+$/, 'lower-case hexadecimal characters (Apache::Session::Generate::MD5)');
    },
  };
}
