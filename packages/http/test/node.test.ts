import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect } from '@jest/globals';
import { testOrSkip } from '@tied/conformance/jest';
import type { Server } from 'node:http';
import type { NodeSessionOptions } from '../src/index.js';
import { runs, SECRET, sessionServer } from './helpers/app.js';
import { closeServer, CookieJar, listen, send, sendAndAbort } from './helpers/client.js';
import { fileFlavor, memoryFlavor, mysqlFlavor, postgresFlavor, redisFlavor, type FlavorUnderTest } from './helpers/flavors.js';

const flavors: FlavorUnderTest[] = [memoryFlavor(), fileFlavor(), await mysqlFlavor(), await postgresFlavor(), await redisFlavor()];
afterAll(async () => { await Promise.all(flavors.map((f) => f.close())); });

/** A server on this flavor with these options, closed after the describe block. */
function serve(under: FlavorUnderTest, options: Partial<NodeSessionOptions> = {}): { url: () => string } {
  let server: Server | undefined;
  let url = '';
  beforeAll(async () => {
    if (under.skip) return;
    server = sessionServer({ secret: SECRET, flavor: under.flavor(), lockTimeout: 30_000, ...options });
    url = await listen(server);
  });
  afterAll(async () => { if (server) await closeServer(server); });
  return { url: () => url };
}

/** A jar holding a session whose count is `count`. */
async function sessionWith(url: string, count: number): Promise<CookieJar> {
  const jar = new CookieJar();
  for (let i = 0; i < count; i++) expect((await send(`${url}/count`, { jar })).status).toBe(200);
  return jar;
}

const peek = async (url: string, jar: CookieJar) => (await send(`${url}/peek`, { jar })).body;

describe.each(flavors)('on the $name flavor', (under) => {
  const it = testOrSkip(under.skip);
  const { url } = serve(under);

  it('50 concurrent requests incrementing one session count to 50', async () => {
    const jar = await sessionWith(url(), 1);
    await Promise.all(Array.from({ length: 50 }, () => send(`${url()}/count`, { jar })));
    expect(await peek(url(), jar)).toBe('51');
  });

  it('100 cookie-less requests that write nothing store nothing and set no cookie', async () => {
    const before = await under.storedIds();
    const replies = await Promise.all(Array.from({ length: 100 }, () => send(`${url()}/peek`)));
    expect(replies.every((reply) => reply.status === 200 && reply.body === 'none' && reply.setCookies.length === 0)).toBe(true);
    expect((await under.storedIds()).sort()).toEqual(before.sort());
  });

  it('a session gone from the store gives a fresh session and a new cookie in the same response', async () => {
    const jar = await sessionWith(url(), 3);
    const oldCookie = jar.value();
    const id = (await send(`${url()}/id`, { jar })).body;
    await under.flavor().parts.store.remove(id);
    const reply = await send(`${url()}/count`, { jar });
    expect(reply.body).toBe('1');
    expect(reply.setCookies).toHaveLength(1);
    expect(jar.value()).not.toBe(oldCookie);
    expect(await peek(url(), jar)).toBe('1');
  });

  it('POST /login → regenerate → 303 → the immediate GET sees the login; the old id no longer opens', async () => {
    const jar = await sessionWith(url(), 1);
    const oldId = (await send(`${url()}/id`, { jar })).body;
    const oldJar = new CookieJar();
    oldJar.store([`tied.sid=${jar.value()}`]);
    const login = await send(`${url()}/login?user=ann`, { method: 'POST', jar });
    expect(login.status).toBe(303);
    expect((await send(`${url()}/me`, { jar })).body).toBe('ann');
    expect((await send(`${url()}/id`, { jar })).body).not.toBe(oldId);
    expect(await under.storedIds()).not.toContain(oldId);
    expect(await peek(url(), oldJar)).toBe('none');
  });

  it('an aborted response (socket destroyed mid-body) is not saved and frees its lock at once', async () => {
    const jar = await sessionWith(url(), 1);
    await sendAndAbort(`${url()}/slow-body?ms=300`, jar, { midBody: true });
    // Opening waits at most this long for the lock: the aborted request must have freed it.
    expect(await peek(url(), jar)).toBe('1');
  });

  it('a client that disconnects while waiting for the lock leaks nothing: the next request gets the lock', async () => {
    const jar = await sessionWith(url(), 1);
    const holdRuns = runs.get('/hold') ?? 0;
    const holder = send(`${url()}/hold?ms=600`, { jar });
    await sleep(100);
    await sendAndAbort(`${url()}/hold?ms=0`, jar, { afterMs: 150 });
    expect((await holder).body).toBe('2');
    // Had the abandoned wait ended up holding the lock, this would wait out lockTimeout (30 s) and get a 503.
    expect(await peek(url(), jar)).toBe('2');
    // The abandoned waiter never ran its handler.
    expect(runs.get('/hold')).toBe(holdRuns + 1);
  });
});

describe.each(flavors)('lockTimeout on the $name flavor', (under) => {
  const it = testOrSkip(under.skip);
  const { url } = serve(under, { lockTimeout: 200 });

  it('a lock wait past lockTimeout answers 503 with Retry-After, and the handler never runs', async () => {
    const jar = await sessionWith(url(), 1);
    const holder = send(`${url()}/hold?ms=800`, { jar });
    await sleep(100);
    const peeks = runs.get('/peek') ?? 0;
    const busy = await send(`${url()}/peek`, { jar });
    expect(busy.status).toBe(503);
    expect(busy.headers['retry-after']).toBe('1');
    expect(runs.get('/peek') ?? 0).toBe(peeks);
    expect((await holder).body).toBe('2');
    expect(await peek(url(), jar)).toBe('2');
  });
});
