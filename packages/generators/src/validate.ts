import { InvalidSessionIdError } from '@tied/core';

/**
 * The check every generator shares: a string of an exact length (or length range) over one alphabet.
 * Anything else — another type, `../`, NUL, a 10 kB string — is refused before a store sees it.
 */
export function assertIdShape(id: unknown, generator: string, pattern: RegExp, expected: string): asserts id is string {
  if (typeof id !== 'string') throw new InvalidSessionIdError(`Invalid session id for ${generator}: expected a string, got ${id === null ? 'null' : typeof id}`);
  // Bounded before the regex so a huge input costs nothing and is not echoed back in the message.
  if (id.length === 0 || id.length > 256 || !pattern.test(id)) {
    const shown = id.length > 40 ? `${JSON.stringify(id.slice(0, 40))}… (${id.length} characters)` : JSON.stringify(id);
    throw new InvalidSessionIdError(`Invalid session id for ${generator}: ${shown}; expected ${expected}`);
  }
}
