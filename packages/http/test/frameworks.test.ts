import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { serve, type ServerType } from '@hono/node-server';
import express, { type NextFunction, type Request as ExpressRequest, type Response as ExpressResponse } from 'express';
import Fastify, { type FastifyInstance } from 'fastify';
import { Hono } from 'hono';
import { defineSession, type Flavor } from '@tied/core';
import { nanoid } from '@tied/generators';
import { fileLocker } from '@tied/lockers/file';
import { superjson } from '@tied/serializers';
import { fileStore } from '@tied/stores/file';
import { MemorySession, tied } from 'tied';
import { sessionMiddleware } from '../src/index.js';
import { sessionOf as fastifySessionOf, tiedSession } from '../src/fastify.js';
import { honoSession, withSession as withFetchSession } from '../src/fetch.js';
import { signId } from '../src/signature.js';
import { SECRET } from './helpers/app.js';
import { closeServer, CookieJar, listen, send, sendAndAbort } from './helpers/client.js';

interface Data {
  count: number;
}

/** A flavor whose store and lock directories are regular files: every open fails with a backend error. */
function brokenFlavor(): { flavor: Flavor; cookie: string; cleanup: () => void } {
  const directory = mkdtempSync(join(tmpdir(), 'http-broken-'));
  const file = join(directory, 'not-a-directory');
  writeFileSync(file, '');
  const flavor = defineSession({ store: fileStore({ directory: join(file, 'sessions') }), locker: fileLocker({ lockDirectory: join(file, 'locks') }), generator: nanoid(), serializer: superjson() });
  const cookie = `tied.sid=${signId(flavor.parts.generator.generate(), [SECRET])}`;
  return { flavor, cookie, cleanup: () => rmSync(directory, { recursive: true, force: true }) };
}

const runs = new Map<string, number>();
const ran = (what: string) => runs.set(what, (runs.get(what) ?? 0) + 1);
const peek = async (url: string, jar: CookieJar) => (await send(`${url}/peek`, { jar })).body;

/** The same checks on each framework's app. */
function saveRuleChecks(url: () => string, framework: string): void {
  test(`${framework}: 200 saved; 302 not, unless forceSave; a throwing handler saves nothing; no write, no cookie`, async () => {
    expect((await send(`${url()}/peek`)).setCookies).toEqual([]);
    const jar = new CookieJar();
    expect((await send(`${url()}/count`, { jar })).body).toBe('1');
    expect((await send(`${url()}/redirect`, { jar })).status).toBe(302);
    expect(await peek(url(), jar)).toBe('1');
    expect((await send(`${url()}/throw`, { jar })).status).toBe(500);
    expect(await peek(url(), jar)).toBe('1');
    expect((await send(`${url()}/redirect?force`, { jar })).status).toBe(302);
    expect(await peek(url(), jar)).toBe('2');
  });

  test(`${framework}: a lock wait past lockTimeout answers 503 with Retry-After; the handler never runs`, async () => {
    const jar = new CookieJar();
    await send(`${url()}/count`, { jar });
    const holder = send(`${url()}/hold?ms=700`, { jar });
    await sleep(100);
    const before = runs.get(`${framework} peek`) ?? 0;
    const busy = await send(`${url()}/peek`, { jar });
    expect([busy.status, busy.headers['retry-after']]).toEqual([503, '1']);
    expect(runs.get(`${framework} peek`) ?? 0).toBe(before);
    await holder;
    expect(await peek(url(), jar)).toBe('2');
  });

  test(`${framework}: a client that disconnects while waiting for the lock leaks nothing`, async () => {
    const jar = new CookieJar();
    await send(`${url()}/count`, { jar });
    const holder = send(`${url()}/hold?ms=200`, { jar });
    await sleep(50);
    await sendAndAbort(`${url()}/peek`, jar, { afterMs: 50 });
    await holder;
    // Had the abandoned wait kept the lock, this would answer 503 after lockTimeout.
    const after = await send(`${url()}/peek`, { jar });
    expect([after.status, after.body]).toEqual([200, '2']);
  });
}

describe('Express 5', () => {
  let server: Server;
  let url = '';
  const broken = brokenFlavor();
  beforeAll(async () => {
    const app = express();
    const sessions = sessionMiddleware<Data>({ secret: SECRET, flavor: MemorySession, lockTimeout: 300 });
    app.use('/broken', sessionMiddleware({ secret: SECRET, flavor: broken.flavor }));
    app.use(sessions);
    app.get('/count', (req, res) => {
      const session = sessions.session(req);
      session.count = (session.count ?? 0) + 1;
      res.send(String(session.count));
    });
    app.get('/peek', (req, res) => { ran('express peek'); res.send(String(sessions.session(req).count ?? 'none')); });
    app.get('/redirect', (req, res) => {
      const session = sessions.session(req);
      session.count = (session.count ?? 0) + 1;
      if ('force' in req.query) tied(session).forceSave = true;
      res.redirect('/peek');
    });
    app.get('/throw', (req) => {
      (req as unknown as { session: Data }).session.count = 99;
      throw new Error('the handler failed on purpose');
    });
    app.get('/hold', async (req, res) => {
      const session = sessions.session(req);
      session.count = (session.count ?? 0) + 1;
      await sleep(Number(req.query.ms));
      res.send('held');
    });
    app.get('/broken/peek', (_req, res) => { res.send('unreachable'); });
    app.use((error: Error & { code?: string }, _req: ExpressRequest, res: ExpressResponse, _next: NextFunction) => {
      res.status(500).send(`error middleware: ${error.code ?? error.message}`);
    });
    server = app.listen(0, '127.0.0.1');
    url = await listen(server);
  });
  afterAll(async () => { await closeServer(server); broken.cleanup(); });

  saveRuleChecks(() => url, 'express');

  test('express: a backend error opening the session reaches the error middleware (next(error))', async () => {
    const reply = await send(`${url}/broken/peek`, { headers: { cookie: broken.cookie } });
    expect(reply.status).toBe(500);
    expect(reply.body).toMatch(/^error middleware: /);
    expect(reply.body).not.toContain('unreachable');
  });
});

describe('Fastify 5', () => {
  let app: FastifyInstance;
  let brokenApp: FastifyInstance;
  let url = '';
  let brokenUrl = '';
  const broken = brokenFlavor();
  beforeAll(async () => {
    app = Fastify();
    await app.register(tiedSession, { secret: SECRET, flavor: MemorySession, lockTimeout: 300 });
    app.get('/count', async (request) => {
      const session = fastifySessionOf<Data>(request);
      session.count = (session.count ?? 0) + 1;
      return String(session.count);
    });
    app.get('/peek', async (request) => { ran('fastify peek'); return String(request.session.count ?? 'none'); });
    app.get<{ Querystring: { force?: string } }>('/redirect', async (request, reply) => {
      request.session.count = (request.session.count ?? 0) + 1;
      if (request.query.force !== undefined) tied(request.session).forceSave = true;
      return reply.redirect('/peek', 302);
    });
    app.get('/throw', async (request) => {
      request.session.count = 99;
      throw new Error('the handler failed on purpose');
    });
    app.get<{ Querystring: { ms: string } }>('/hold', async (request) => {
      request.session.count = (request.session.count ?? 0) + 1;
      await sleep(Number(request.query.ms));
      return 'held';
    });
    app.get<{ Querystring: { ms: string } }>('/slow-body', async (request, reply) => {
      request.session.count = (request.session.count ?? 0) + 1;
      const body = new Readable({ read() {} });
      body.push('first chunk\n');
      setTimeout(() => { body.push('rest\n'); body.push(null); }, Number(request.query.ms));
      return reply.type('text/plain').send(body);
    });
    url = await app.listen({ port: 0, host: '127.0.0.1' });
    brokenApp = Fastify();
    await brokenApp.register(tiedSession, { secret: SECRET, flavor: broken.flavor });
    brokenApp.get('/peek', async () => 'unreachable');
    brokenUrl = await brokenApp.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(async () => { await app.close(); await brokenApp.close(); broken.cleanup(); });

  saveRuleChecks(() => url, 'fastify');

  test('fastify: a response cut off mid-body is not saved and frees its lock at once', async () => {
    const jar = new CookieJar();
    await send(`${url}/count`, { jar });
    await sendAndAbort(`${url}/slow-body?ms=300`, jar, { midBody: true });
    expect(await peek(url, jar)).toBe('1');
  });

  test('fastify: a backend error opening the session takes Fastify\'s error path', async () => {
    const reply = await send(`${brokenUrl}/peek`, { headers: { cookie: broken.cookie } });
    expect(reply.status).toBe(500);
    expect(reply.body).not.toContain('unreachable');
  });

  test('fastify: a short secret fails the registration', async () => {
    const bad = Fastify();
    await expect(bad.register(tiedSession, { secret: 'short' }).ready()).rejects.toThrow(/at least 32/);
    await bad.close();
  });
});

describe('Hono', () => {
  let server: ServerType;
  let url = '';
  const broken = brokenFlavor();
  beforeAll(async () => {
    const app = new Hono<{ Variables: { session: Partial<Data> } }>();
    app.use('/broken/*', honoSession({ secret: SECRET, flavor: broken.flavor }));
    app.get('/broken/peek', (c) => c.text('unreachable'));
    app.use(honoSession<Data>({ secret: SECRET, flavor: MemorySession, lockTimeout: 300 }));
    app.get('/count', (c) => {
      const session = c.get('session');
      session.count = (session.count ?? 0) + 1;
      return c.text(String(session.count));
    });
    app.get('/peek', (c) => { ran('hono peek'); return c.text(String(c.get('session').count ?? 'none')); });
    app.get('/redirect', (c) => {
      const session = c.get('session');
      session.count = (session.count ?? 0) + 1;
      if (c.req.query('force') !== undefined) tied(session)!.forceSave = true;
      return c.redirect('/peek', 302);
    });
    app.get('/throw', (c) => {
      c.get('session').count = 99;
      throw new Error('the handler failed on purpose');
    });
    app.get('/hold', async (c) => {
      const session = c.get('session');
      session.count = (session.count ?? 0) + 1;
      await sleep(Number(c.req.query('ms')));
      return c.text('held');
    });
    app.onError((error, c) => c.text(`onError: ${error.message}`, 500));
    await new Promise<void>((resolve) => { server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve()); });
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(async () => { await closeServer(server as Server); broken.cleanup(); });

  saveRuleChecks(() => url, 'hono');

  test('hono: a backend error opening the session takes Hono\'s error path', async () => {
    const reply = await send(`${url}/broken/peek`, { headers: { cookie: broken.cookie } });
    expect(reply.status).toBe(500);
    // Hono hands only `instanceof Error` values to onError; under Jest's VM context a Node system error
    // (ENOTDIR here) is not one, so @hono/node-server answers the bare 500 itself.
    expect(reply.body).not.toContain('unreachable');
  });
});

describe('withSession for Web-standard fetch handlers (served by @hono/node-server)', () => {
  let server: ServerType;
  let url = '';
  beforeAll(async () => {
    const handler = withFetchSession<Data>({ secret: SECRET, flavor: MemorySession }, (request, session) => {
      const path = new URL(request.url).pathname;
      if (path === '/count') session.count = (session.count ?? 0) + 1;
      if (path === '/throw') {
        session.count = 99;
        throw new Error('the handler failed on purpose');
      }
      return new Response(String(session.count ?? 'none'));
    });
    await new Promise<void>((resolve) => { server = serve({ fetch: handler, port: 0, hostname: '127.0.0.1' }, () => resolve()); });
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(() => closeServer(server as Server));

  test('saves a written session before the response, sets the cookie, and a throw saves nothing', async () => {
    const jar = new CookieJar();
    expect((await send(`${url}/peek`, { jar })).setCookies).toEqual([]);
    expect((await send(`${url}/count`, { jar })).body).toBe('1');
    expect((await send(`${url}/count`, { jar })).body).toBe('2');
    expect((await send(`${url}/throw`, { jar })).status).toBe(500);
    expect(await peek(url, jar)).toBe('2');
  });
});
