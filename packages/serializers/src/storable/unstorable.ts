/**
 * The error for a JS value that has no Perl form. The Writer throws it where it finds the value, and
 * nfreeze turns it into a SerializationError that names the value and its path from the root.
 */
import type { SlotKey } from './values.js';

/** A value with no Perl form; collects the path to it on the way up. */
export class UnstorableValue extends Error {
  readonly path: string[] = [];
  constructor(readonly problem: string) {
    super(problem);
  }
}

/** Adds the segment of `key` (`.name`, `["odd key"]`, `[3]`) in front of an UnstorableValue's path. */
export function withPathSegment(error: unknown, key: SlotKey): unknown {
  if (error instanceof UnstorableValue) {
    error.path.unshift(typeof key === 'number' ? `[${key}]` : /^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`);
  }
  return error;
}

/** What kind of JS value this is, for messages. */
export function describe(value: unknown): string {
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
