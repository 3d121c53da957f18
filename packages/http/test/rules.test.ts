import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { defineSession, memoryLocker, memoryStore, tied } from '@tied/core';
import { nanoid } from '@tied/generators';
import { json } from '@tied/serializers/json';
import { sessionMiddleware, sessionOf, SessionSaveError, type NodeSessionOptions } from '../src/index.js';
import { signId } from '../src/signature.js';
import { SECRET, sessionServer } from './helpers/app.js';
import { closeServer, CookieJar, eventually, listen, send } from './helpers/client.js';
import { fileFlavor, memoryFlavor, type FlavorUnderTest } from './helpers/flavors.js';

const flavors = [memoryFlavor(), fileFlavor()];
afterAll(async () => { await Promise.all(flavors.map((f) => f.close())); });

function serve(options: Partial<NodeSessionOptions>): { url: () => string } {
  let server: Server | undefined;
  let url = '';
  beforeAll(async () => {
    server = sessionServer({ secret: SECRET, flavor: flavors[0]!.flavor(), ...options });
    url = await listen(server);
  });
  afterAll(async () => { if (server) await closeServer(server); });
  return { url: () => url };
}

async function sessionWith(url: string, count: number): Promise<CookieJar> {
  const jar = new CookieJar();
  for (let i = 0; i < count; i++) expect((await send(`${url}/count`, { jar })).status).toBe(200);
  return jar;
}

const peek = async (url: string, jar: CookieJar) => (await send(`${url}/peek`, { jar })).body;

describe.each(flavors)('save rules on the $name flavor', (under: FlavorUnderTest) => {
  let server: Server;
  let url = '';
  beforeAll(async () => {
    server = sessionServer({ secret: SECRET, flavor: under.flavor() });
    url = await listen(server);
  });
  afterAll(() => closeServer(server));

  test('200 is saved; 302 and 500 are not; 302 with forceSave is; a throwing handler saves nothing', async () => {
    const jar = await sessionWith(url, 1);
    expect((await send(`${url}/redirect`, { jar })).status).toBe(302);
    expect(await peek(url, jar)).toBe('1');
    expect((await send(`${url}/fail`, { jar })).status).toBe(500);
    expect(await peek(url, jar)).toBe('1');
    expect((await send(`${url}/throw`, { jar })).status).toBe(500);
    expect(await peek(url, jar)).toBe('1');
    expect((await send(`${url}/redirect?force`, { jar })).status).toBe(302);
    expect(await peek(url, jar)).toBe('2');
    expect((await send(`${url}/count`, { jar })).body).toBe('3');
    expect(await peek(url, jar)).toBe('3');
  });

  test('a new session written by a 302, a 500 or a throwing handler is not created and gets no cookie', async () => {
    const before = await under.storedIds();
    for (const path of ['/redirect', '/fail', '/throw']) {
      const reply = await send(`${url}${path}`);
      expect(reply.setCookies).toEqual([]);
    }
    expect((await under.storedIds()).sort()).toEqual(before.sort());
  });

  test('logout destroys the session and clears the cookie', async () => {
    const jar = await sessionWith(url, 2);
    const id = (await send(`${url}/id`, { jar })).body;
    const logout = await send(`${url}/logout`, { method: 'POST', jar });
    expect(logout.status).toBe(303);
    expect(logout.setCookies).toHaveLength(1);
    expect(jar.value()).toBeUndefined();
    expect(await under.storedIds()).not.toContain(id);
  });
});

test('the file flavor: 100 cookie-less requests leave the store and the lock directory empty', async () => {
  const under = fileFlavor();
  const server = sessionServer({ secret: SECRET, flavor: under.flavor() });
  try {
    const url = await listen(server);
    await Promise.all(Array.from({ length: 100 }, () => send(`${url}/peek`)));
    expect(await under.storedIds()).toEqual([]);
    expect(under.lockFiles()).toEqual([]);
  } finally {
    await closeServer(server);
    await under.close();
  }
});

describe('alwaysSave', () => {
  const { url } = serve({ alwaysSave: true });
  test('touches every saved session, so a read-only request writes it too', async () => {
    const jar = await sessionWith(url(), 1);
    const id = (await send(`${url()}/id`, { jar })).body;
    const stamp = async () => {
      const session = await flavors[0]!.flavor().open(id, { readonly: true });
      try { return session._session_timestamp as number; } finally { await tied(session).release(); }
    };
    const first = await stamp();
    await new Promise((r) => setTimeout(r, 5));
    await peek(url(), jar);
    expect(await stamp()).toBeGreaterThan(first);
  });
});

describe('shouldSave', () => {
  // Replaces the status rule: here redirects are saved and nothing else.
  const { url } = serve({ shouldSave: (_req, res) => res.statusCode === 302 });
  test('replaces the status rule', async () => {
    const jar = new CookieJar();
    expect((await send(`${url()}/redirect`, { jar })).setCookies).toHaveLength(1);
    expect((await send(`${url()}/count`, { jar })).body).toBe('2');
    expect(await peek(url(), jar)).toBe('1');
  });
});

describe('cookies that do not verify', () => {
  const { url } = serve({});
  test('tampered, truncated, unsigned, wrong-secret and empty cookies get a fresh session', async () => {
    const jar = await sessionWith(url(), 5);
    const good = jar.value()!;
    const id = good.slice(0, good.lastIndexOf('.'));
    const flipped = good.slice(0, -1) + (good.endsWith('A') ? 'B' : 'A');
    const variants = {
      tampered: `x${good.slice(1)}`,
      'tampered signature': flipped,
      truncated: good.slice(0, -5),
      unsigned: id,
      'wrong secret': signId(id, ['another-secret-that-is-long-enough-0123456789']),
      empty: '',
      'dot only': '.',
      huge: 'a'.repeat(10_000),
    };
    for (const [what, value] of Object.entries(variants)) {
      const reply = await send(`${url()}/peek`, { headers: { cookie: `tied.sid=${value}` } });
      expect([what, reply.status, reply.body]).toEqual([what, 200, 'none']);
      // The bad cookie is cleared.
      expect([what, reply.setCookies[0]]).toEqual([what, expect.stringContaining('Expires=Thu, 01 Jan 1970')]);
    }
    expect(await peek(url(), jar)).toBe('5');
  });

  test('a second cookie by the same name that verifies is used', async () => {
    const jar = await sessionWith(url(), 2);
    const reply = await send(`${url()}/peek`, { headers: { cookie: `tied.sid=forged.value; tied.sid=${jar.value()}` } });
    expect(reply.body).toBe('2');
  });
});

describe('secret rotation', () => {
  const OLD = 'the-old-secret-that-is-long-enough-0123456789';
  const { url } = serve({ secret: [SECRET, OLD] });
  test('a cookie signed with an old secret is accepted and re-signed with the first', async () => {
    const seeded = await sessionWith(url(), 3);
    const value = seeded.value()!;
    const id = value.slice(0, value.lastIndexOf('.'));
    const jar = new CookieJar();
    jar.store([`tied.sid=${signId(id, [OLD])}`]);
    const reply = await send(`${url()}/peek`, { jar });
    expect(reply.body).toBe('3');
    expect(jar.value()).toBe(signId(id, [SECRET]));
    expect((await send(`${url()}/peek`, { jar })).setCookies).toEqual([]);
  });
});

test('a secret under 32 characters, unknown options and contradictory cookie options are refused at start-up', () => {
  expect(() => sessionMiddleware({ secret: 'short' })).toThrow(/at least 32/);
  expect(() => sessionMiddleware({ secret: [SECRET, 'short'] })).toThrow(/secret\[1\].*at least 32/);
  expect(() => sessionMiddleware({ secret: [] })).toThrow(TypeError);
  expect(() => sessionMiddleware({ secret: 42 } as unknown as NodeSessionOptions)).toThrow(/string/);
  expect(() => sessionMiddleware({ secret: SECRET, resave: true } as unknown as NodeSessionOptions)).toThrow(/Unknown session option 'resave'/);
  expect(() => sessionMiddleware({ secret: SECRET, cookie: { partitioned: true } })).toThrow(/Secure/);
  expect(() => sessionMiddleware({ secret: SECRET, cookie: { sameSite: 'none' } })).toThrow(/Secure/);
  expect(() => sessionMiddleware({ secret: SECRET, cookie: { name: 'bad name' } })).toThrow();
  expect(() => sessionMiddleware({ secret: SECRET, lockTimeout: -1 })).toThrow(/lockTimeout/);
});

// Wall-clock tests: the margins are wide so that a loaded machine cannot turn "used" into "idle".
describe('idleTimeout', () => {
  const { url } = serve({ idleTimeout: 1500 });
  test('a session unused for longer is treated as missing; one in use lives on', async () => {
    const used = await sessionWith(url(), 1);
    const idle = await sessionWith(url(), 1);
    const idleSince = Date.now();
    while (Date.now() - idleSince < 2000) {
      await new Promise((r) => setTimeout(r, 150));
      expect(await peek(url(), used)).toBe('1');
    }
    expect(await peek(url(), idle)).toBe('none');
  });
});

describe('absoluteTimeout', () => {
  const { url } = serve({ absoluteTimeout: 1500 });
  test('a session older than this is replaced, however much it is used', async () => {
    const created = Date.now();
    const jar = await sessionWith(url(), 1);
    const id = (await send(`${url()}/id`, { jar })).body;
    for (let count = 2; count <= 4; count++) {
      await new Promise((r) => setTimeout(r, 100));
      expect((await send(`${url()}/count`, { jar })).body).toBe(String(count));
    }
    await new Promise((r) => setTimeout(r, Math.max(0, 1600 - (Date.now() - created))));
    expect(await peek(url(), jar)).toBe('none');
    expect(await flavors[0]!.storedIds()).not.toContain(id);
  });
});

describe('cookie attributes', () => {
  const { url } = serve({ trustProxy: true, cookie: { secure: 'auto', sameSite: 'strict', partitioned: true, priority: 'high', maxAge: 3_600_000, domain: 'example.test', path: '/app' } });
  test('Secure with auto behind X-Forwarded-Proto, SameSite, HttpOnly, Partitioned, Priority, Max-Age, Domain, Path', async () => {
    const https = await send(`${url()}/count`, { headers: { 'x-forwarded-proto': 'https' } });
    expect(https.setCookies[0]).toMatch(/^tied\.sid=[\w-]+\.[\w-]{43}; Max-Age=3600; Domain=example\.test; Path=\/app; HttpOnly; Secure; Partitioned; Priority=High; SameSite=Strict$/);
    const plain = await send(`${url()}/count`);
    expect(plain.setCookies[0]).not.toMatch(/Secure/);
  });
});

describe.each([false, true])('cookies the app sets in writeHead (saveBeforeEnd: %s)', (saveBeforeEnd) => {
  const { url } = serve({ saveBeforeEnd });
  test('go out beside the session cookie', async () => {
    const jar = new CookieJar();
    const reply = await send(`${url()}/own-cookie`, { jar });
    expect(reply.setCookies).toHaveLength(2);
    expect(jar.value('theme')).toBe('dark');
    expect(await peek(url(), jar)).toBe('1');
  });
});

describe('saveBeforeEnd', () => {
  const { url } = serve({ saveBeforeEnd: true });
  test('a streamed body (write without writeHead, then end) is a whole response, and the session is saved', async () => {
    const jar = new CookieJar();
    const reply = await send(`${url()}/stream`, { jar });
    expect([reply.status, reply.body]).toEqual([200, 'first chunk\nrest\n']);
    expect(reply.setCookies).toHaveLength(1);
    expect((await send(`${url()}/count`, { jar })).body).toBe('2');
    expect(await peek(url(), jar)).toBe('2');
  });
});

test('a second session middleware on the same request uses the session already open (no wait for its own lock)', async () => {
  const global = sessionMiddleware({ secret: SECRET, flavor: flavors[0]!.flavor(), lockTimeout: 200 });
  const perRoute = sessionMiddleware({ secret: SECRET, flavor: flavors[0]!.flavor(), lockTimeout: 200, readonly: true });
  const server = createServer(async (req, res) => {
    if (!(await global(req, res)) || !(await perRoute(req, res))) return;
    const session = sessionOf<{ count: number }>(req);
    session.count = (session.count ?? 0) + 1;
    res.end(String(session.count));
  });
  try {
    const url = await listen(server);
    const jar = new CookieJar();
    expect((await send(url, { jar })).body).toBe('1');
    const second = await send(url, { jar });
    expect([second.status, second.body]).toEqual([200, '2']);
  } finally {
    await closeServer(server);
  }
});

describe('rolling', () => {
  const { url } = serve({ rolling: true });
  test('sends the cookie on every response of a stored session', async () => {
    const jar = await sessionWith(url(), 1);
    expect((await send(`${url()}/peek`, { jar })).setCookies).toHaveLength(1);
    expect((await send(`${url()}/peek`)).setCookies).toEqual([]);
  });
});

describe('readonly', () => {
  const { url } = serve({ lockTimeout: 300, readonly: (req) => req.url!.startsWith('/count?ro') || req.url!.startsWith('/read-slow') });
  test('a readonly route cannot write, and saves nothing', async () => {
    const jar = await sessionWith(url(), 1);
    const reply = await send(`${url()}/count?ro`, { jar });
    expect(reply.status).toBe(500);
    expect(await peek(url(), jar)).toBe('1');
  });

  test('readonly requests share the lock; a writer waits for them', async () => {
    const jar = await sessionWith(url(), 1);
    const slowReader = send(`${url()}/read-slow?ms=900`, { jar });
    await new Promise((r) => setTimeout(r, 150));
    const reader = await send(`${url()}/read-slow?ms=0`, { jar });
    expect([reader.status, reader.body]).toEqual([200, '1']);
    expect((await send(`${url()}/count`, { jar })).status).toBe(503);
    expect((await slowReader).body).toBe('1');
  });
});

describe('a write after the headers', () => {
  const errors: unknown[] = [];
  const { url } = serve({ onError: (error) => errors.push(error) });
  test('to a new session is discarded and reported (no cookie could name it)', async () => {
    const reply = await send(`${url()}/late-write`);
    expect(reply.setCookies).toEqual([]);
    expect(await eventually(() => errors.length === 1)).toBe(true);
    expect(errors[0]).toBeInstanceOf(SessionSaveError);
    expect((errors[0] as Error).message).toMatch(/after the response's headers/);
  });
});

describe('a save that fails', () => {
  // The json serializer cannot hold a BigInt: a real part failing for real.
  const flavor = defineSession({ store: memoryStore(), locker: memoryLocker(), generator: nanoid(), serializer: json() });
  const errors: unknown[] = [];
  const { url: after } = serve({ flavor, onError: (error) => errors.push(error) });
  const { url: before } = serve({ flavor, saveBeforeEnd: true, onError: () => {} });

  test('after the response is reported through onError with the session id, never its data', async () => {
    const jar = new CookieJar();
    await send(`${after()}/count`, { jar });
    const id = (await send(`${after()}/id`, { jar })).body;
    const reply = await send(`${after()}/poison`, { jar });
    expect(reply.status).toBe(200);
    expect(await eventually(() => errors.length === 1)).toBe(true);
    const error = errors[0] as SessionSaveError;
    expect(error).toBeInstanceOf(SessionSaveError);
    expect(error.sessionId).toBe(id);
    expect(error.message).toContain(id);
    expect(await peek(after(), jar)).toBe('1');
  });

  test('with saveBeforeEnd becomes a 500, and the previous version stays', async () => {
    const jar = new CookieJar();
    await send(`${before()}/count`, { jar });
    const reply = await send(`${before()}/poison`, { jar });
    expect(reply.status).toBe(500);
    expect(await peek(before(), jar)).toBe('1');
  });

  test('by default prints one line on stderr with the session id', async () => {
    const server = sessionServer({ secret: SECRET, flavor, onError: undefined });
    const url = await listen(server);
    const written: string[] = [];
    const write = process.stderr.write;
    process.stderr.write = ((chunk: string) => { written.push(String(chunk)); return true; }) as typeof process.stderr.write;
    try {
      const jar = new CookieJar();
      await send(`${url}/count`, { jar });
      const id = (await send(`${url}/id`, { jar })).body;
      await send(`${url}/poison`, { jar });
      expect(await eventually(() => written.length > 0)).toBe(true);
      expect(written).toHaveLength(1);
      expect(written[0]).toMatch(new RegExp(`^@tied/http: Saving session ${id} failed: .*\\n$`));
      expect(written[0]).not.toContain('10n');
    } finally {
      process.stderr.write = write;
      await closeServer(server);
    }
  });
});
