/**
 * Apache::Session::Serialize::Base64: the bytes of another serializer as MIME base64 text, framed as
 * Perl's `MIME::Base64::encode_base64` frames them: lines of 76 characters, each ending in "\n"
 * (the last one too). Perl's Base64 serializer is `base64(storable())`.
 */
import { SessionCorruptError } from '@tied/core';
import type { Payload, Serializer } from '@tied/core';

const LINE_LENGTH = 76;
/** Line breaks and spaces, which MIME base64 decoders skip. */
const WHITESPACE = /[\t\n\r ]+/g;
const NOT_BASE64 = /[^A-Za-z0-9+/=]/;
const PADDING = /^={1,2}$/;

const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Wraps `inner` in base64; a text `inner` is encoded as its UTF-8 bytes. */
export function base64(inner: Serializer): Serializer {
  return {
    name: `base64(${inner.name})`,
    output: 'text',
    serialize: (value) => encodeBase64(bytesOf(inner.serialize(value))),
    unserialize: (data) => {
      const bytes = decodeBase64(typeof data === 'string' ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('latin1'));
      return inner.unserialize(inner.output === 'text' ? utf8(bytes) : bytes);
    },
  };
}

function bytesOf(payload: Payload): Buffer {
  return typeof payload === 'string'
    ? Buffer.from(payload, 'utf8')
    : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
}

/** `MIME::Base64::encode_base64($bytes)`: "" for no bytes. */
function encodeBase64(bytes: Buffer): string {
  const text = bytes.toString('base64');
  const lines: string[] = [];
  for (let i = 0; i < text.length; i += LINE_LENGTH) lines.push(text.slice(i, i + LINE_LENGTH), '\n');
  return lines.join('');
}

/** Strict base64: only the alphabet, whitespace between characters, and "=" padding to a multiple of four. */
function decodeBase64(text: string): Buffer {
  const compact = text.replace(WHITESPACE, '');
  const invalid = NOT_BASE64.exec(compact);
  if (invalid) throw new SessionCorruptError(`Base64 session data holds ${JSON.stringify(invalid[0])}, which is not a base64 character`);
  if (compact.length % 4 !== 0) throw new SessionCorruptError(`Base64 session data has ${compact.length} characters, not a multiple of four`);
  const padding = compact.indexOf('=');
  if (padding !== -1 && !(padding >= compact.length - 2 && PADDING.test(compact.slice(padding)))) {
    throw new SessionCorruptError('Base64 session data has "=" padding that is not at its end');
  }
  return Buffer.from(compact, 'base64');
}

function utf8(bytes: Uint8Array): string {
  try {
    return utf8Decoder.decode(bytes);
  } catch {
    throw new SessionCorruptError('Base64 session data does not hold UTF-8 text');
  }
}
