import { createHmac, timingSafeEqual } from 'node:crypto';

/** The shortest secret accepted: 32 characters, the length of a 128-bit key written in hex. */
export const MIN_SECRET_LENGTH = 32;

/** Longer cookie values are refused before any HMAC is computed (browsers keep at most 4096 bytes). */
const MAX_COOKIE_VALUE_LENGTH = 4096;

/** The secrets as a non-empty list, each checked; a hostile or mistaken value fails at start-up. */
export function secretList(secret: unknown): readonly string[] {
  const secrets = Array.isArray(secret) ? secret : [secret];
  if (secrets.length === 0) throw new TypeError('secret must be a string or a non-empty array of strings');
  for (const [index, value] of secrets.entries()) {
    const where = Array.isArray(secret) ? `secret[${index}]` : 'secret';
    if (typeof value !== 'string') throw new TypeError(`${where} must be a string, got ${typeof value}`);
    if (value.length < MIN_SECRET_LENGTH) {
      throw new TypeError(`${where} is ${value.length} characters long; a cookie secret needs at least ${MIN_SECRET_LENGTH} (e.g. openssl rand -hex 32)`);
    }
  }
  return Object.freeze([...secrets]);
}

function mac(id: string, secret: string): Buffer {
  return createHmac('sha256', secret).update(id, 'utf8').digest();
}

/** `<id>.<base64url HMAC-SHA256(id)>`, signed with the first secret. */
export function signId(id: string, secrets: readonly string[]): string {
  return `${id}.${mac(id, secrets[0]!).toString('base64url')}`;
}

/** What a correctly signed cookie value holds: the id, and which secret signed it (0 = the current one). */
export interface VerifiedId {
  id: string;
  secretIndex: number;
}

/** The id of a cookie value signed by one of the secrets, compared in constant time; else undefined. */
export function verifySignedId(value: string, secrets: readonly string[]): VerifiedId | undefined {
  if (value.length > MAX_COOKIE_VALUE_LENGTH) return undefined;
  const dot = value.lastIndexOf('.');
  if (dot <= 0) return undefined;
  const id = value.slice(0, dot);
  const given = Buffer.from(value.slice(dot + 1), 'base64url');
  // Buffer.from ignores characters outside base64url; re-encoding tells a canonical signature apart.
  if (given.toString('base64url') !== value.slice(dot + 1)) return undefined;
  for (const [secretIndex, secret] of secrets.entries()) {
    const expected = mac(id, secret);
    if (given.length === expected.length && timingSafeEqual(given, expected)) return { id, secretIndex };
  }
  return undefined;
}
