import { InvalidSessionIdError } from '@tied/core';

/**
 * Ids that make a plain file name, for the store and the locker alike: 1–200 printable ASCII
 * characters without `/` or `\`, not starting with a dot — so no `.`, `..`, hidden name, temporary
 * file or writer gate can be reached through an id.
 */
export const FILE_NAME_ID = /^[\x21-\x2d\x30-\x5b\x5d-\x7e][\x21-\x2e\x30-\x5b\x5d-\x7e]{0,199}$/;

/** Perl's Lock::File names, as Perl's `clean` matches them. */
export const PERL_LOCK_FILE = /^Apache-Session-.*\.lock$/;

/** Throws `InvalidSessionIdError` unless `id` is a plain file name; `refusal` says who cannot use the id shown. */
export function assertFileNameId(id: unknown, refusal: (shown: string) => string): asserts id is string {
  if (typeof id === 'string' && FILE_NAME_ID.test(id)) return;
  // Never echo a huge id.
  const shown = typeof id !== 'string' ? typeof id : id.length > 40 ? `${JSON.stringify(id.slice(0, 40))}… (${id.length} characters)` : JSON.stringify(id);
  throw new InvalidSessionIdError(`${refusal(shown)}: expected 1 to 200 printable ASCII characters without / or \\, not starting with a dot`);
}

export function errorCode(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}
