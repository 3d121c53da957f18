import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { SessionCorruptError, type Payload, type Serializer } from '@tied/core';
import { serializerSuite } from '@tied/conformance/jest';
import { base64 } from '../src/base64.js';
import { blessed, storable } from '../src/storable.js';

const FIXTURES = fileURLToPath(new URL('./fixtures/storable/', import.meta.url));
const webSession = readFileSync(`${FIXTURES}vectors/web_session.bin`);
/** `MIME::Base64::encode_base64` of web_session.bin, written by Perl. */
const webSessionBase64 = readFileSync(`${FIXTURES}web_session.b64`, 'latin1');

/** A binary serializer that hands its bytes through, to see exactly what base64 frames. */
function bytesSerializer(bytes: Uint8Array): Serializer {
  return {
    name: 'bytes',
    output: 'binary',
    serialize: () => bytes,
    unserialize: (data: Payload) => ({ data }),
  };
}

/** A text serializer, like JSON. */
const textSerializer: Serializer = {
  name: 'text',
  output: 'text',
  serialize: (value) => JSON.stringify(value),
  unserialize: (data: Payload) => {
    if (typeof data !== 'string') throw new Error('the text serializer was given bytes');
    return JSON.parse(data) as Record<string, unknown>;
  },
};

function encode(bytes: Uint8Array): string {
  return base64(bytesSerializer(bytes)).serialize({}) as string;
}

function decode(text: Payload): Uint8Array {
  return base64(bytesSerializer(new Uint8Array())).unserialize(text).data as Uint8Array;
}

serializerSuite({ name: 'base64(storable)', factory: () => base64(storable()) });

describe('base64(storable()): Apache::Session::Serialize::Base64', () => {
  const serializer = base64(storable());

  test('is a text serializer', () => {
    expect(serializer.output).toBe('text');
    expect(serializer.name).toBe('base64(storable)');
  });

  test('writes what Perl writes, and reads it back', () => {
    const session = storable().unserialize(webSession);
    expect(serializer.serialize(session)).toBe(webSessionBase64);
    const back = serializer.unserialize(webSessionBase64) as Record<string, any>;
    expect(back._session_id).toBe(session._session_id);
    expect(blessed(back.user)).toBe('MyApp::User');
  });

  test('a session round-trips', () => {
    const session = { _session_id: 'abc', user: { name: 'Zoë', roles: ['admin'] }, visits: 3 };
    expect(serializer.unserialize(serializer.serialize(session))).toEqual(session);
  });

  test('corrupt Storable inside valid base64 is a SessionCorruptError too', () => {
    expect(() => serializer.unserialize('BQsC\n')).toThrow(SessionCorruptError);
    expect(() => serializer.unserialize('')).toThrow(SessionCorruptError);
  });
});

describe('MIME::Base64 framing', () => {
  test('lines of 76 characters, each ending in "\\n", the last one too', () => {
    expect(encode(new Uint8Array())).toBe('');
    expect(encode(Buffer.from('x'))).toBe('eA==\n');
    const exactLine = encode(Buffer.alloc(57, 'x'));
    expect(exactLine).toBe(`${'eHh4'.repeat(19)}\n`);
    const lines = encode(Buffer.alloc(58, 'x')).split('\n');
    expect(lines.map((line) => line.length)).toEqual([76, 4, 0]);
    for (const line of webSessionBase64.split('\n').slice(0, -2)) expect(line).toHaveLength(76);
  });

  test('a text serializer is framed as its UTF-8 bytes', () => {
    const serializer = base64(textSerializer);
    const text = serializer.serialize({ greeting: 'Grüß dich, 世界 \u{1F600}' }) as string;
    expect(Buffer.from(text, 'base64').toString('utf8')).toBe('{"greeting":"Grüß dich, 世界 \u{1F600}"}');
    expect(serializer.unserialize(text)).toEqual({ greeting: 'Grüß dich, 世界 \u{1F600}' });
    expect(() => serializer.unserialize(Buffer.from([0xc3, 0x28]).toString('base64'))).toThrow(/does not hold UTF-8 text/);
  });

  test('reads base64 given as bytes, without line breaks, or with CRLF line breaks', () => {
    const bytes = decode(Buffer.from(webSessionBase64, 'latin1'));
    expect(Buffer.from(bytes).equals(webSession)).toBe(true);
    expect(Buffer.from(decode(webSessionBase64.replace(/\n/g, ''))).equals(webSession)).toBe(true);
    expect(Buffer.from(decode(webSessionBase64.replace(/\n/g, '\r\n'))).equals(webSession)).toBe(true);
    expect(Buffer.from(decode(' eA==\n\t')).toString()).toBe('x');
  });

  test('refuses what is not base64 with a SessionCorruptError', () => {
    const cases: [string, RegExp][] = [
      ['eA=!', /holds "!", which is not a base64 character/],
      ['e-A_', /holds "-"/],
      ['eAé=', /holds "é"/],
      ['eA=', /has 3 characters, not a multiple of four/],
      ['e', /not a multiple of four/],
      ['e===', /"=" padding that is not at its end/],
      ['eA=A', /padding that is not at its end/],
      ['eA==eA==', /padding that is not at its end/],
    ];
    for (const [text, message] of cases) {
      let caught: unknown;
      try {
        decode(text);
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(SessionCorruptError);
      expect((caught as Error).message).toMatch(message);
    }
  });

  test('any bytes round-trip, and any text decodes or is refused with a SessionCorruptError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const text = encode(bytes);
        expect(text.split('\n').every((line) => line.length <= 76)).toBe(true);
        expect(Buffer.from(decode(text)).equals(Buffer.from(bytes))).toBe(true);
      }),
      { numRuns: 1000 },
    );
    fc.assert(
      fc.property(fc.string({ unit: 'binary-ascii', maxLength: 40 }), (text) => {
        try {
          decode(text);
        } catch (error) {
          if (!(error instanceof SessionCorruptError)) throw error;
        }
      }),
      { numRuns: 2000 },
    );
  });
});
