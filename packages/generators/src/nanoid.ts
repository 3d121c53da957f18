import { nanoid as makeNanoid } from 'nanoid';
import type { Generator } from '@tied/core';
import { assertIdShape } from './validate.js';

/** URL-safe random ids (A–Z a–z 0–9 _ -), `size` characters (default 21: 126 random bits). */
export function nanoid(options: { size?: number } = {}): Generator {
  const size = options.size ?? 21;
  if (!Number.isInteger(size) || size < 16 || size > 256) throw new RangeError(`nanoid size must be an integer from 16 to 256, got ${size}`);
  const pattern = new RegExp(`^[A-Za-z0-9_-]{${size}}$`);
  return {
    name: 'nanoid',
    generate: () => makeNanoid(size),
    validate(id: unknown): asserts id is string {
      assertIdShape(id, 'nanoid', pattern, `${size} characters of A-Z a-z 0-9 _ -`);
    },
  };
}
