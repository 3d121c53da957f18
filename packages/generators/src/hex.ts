import { randomBytes } from 'node:crypto';
import type { Generator } from '@tied/core';
import { assertIdShape } from './validate.js';

/**
 * Hex ids from crypto-random bytes, compatible with Apache::Session::Generate::MD5: `length`
 * characters (default 32, Perl's IDLength) and the same validation, /^[a-fA-F0-9]+$/. Perl's
 * validate accepts any length, so ids of other lengths made by Perl are accepted too.
 */
export function hex(options: { length?: number } = {}): Generator {
  const length = options.length ?? 32;
  if (!Number.isInteger(length) || length < 16 || length > 128) throw new RangeError(`hex length must be an integer from 16 to 128, got ${length}`);
  return {
    name: 'hex',
    generate: () => randomBytes(Math.ceil(length / 2)).toString('hex').slice(0, length),
    validate(id: unknown): asserts id is string {
      assertIdShape(id, 'hex', /^[0-9a-fA-F]+$/, 'hexadecimal characters (Apache::Session::Generate::MD5)');
    },
  };
}
