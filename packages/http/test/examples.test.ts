import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { CookieJar, send } from './helpers/client.js';
import { startExample, type RunningExample } from './helpers/examples.js';

const form = { 'content-type': 'application/x-www-form-urlencoded' };

describe.each(['http', 'express', 'fastify', 'hono'])('examples/%s.mjs end to end with a cookie jar', (name) => {
  let example: RunningExample;
  beforeAll(async () => { example = await startExample(name); });
  afterAll(async () => { await example?.stop(); });

  test('log in, count twice, log out; a visit that writes nothing stores nothing', async () => {
    const jar = new CookieJar();
    const first = await send(`${example.url}/`, { jar });
    expect(first.status).toBe(200);
    expect(first.body).toContain('action="/login"');
    expect(first.setCookies).toEqual([]);
    expect(example.sessionFiles()).toEqual([]);

    const login = await send(`${example.url}/login`, { method: 'POST', headers: form, body: 'name=Ann+%3Cb%3E', jar });
    expect(login.status).toBe(303);
    expect(jar.value()).toBeDefined();
    const home = await send(`${example.url}/`, { jar });
    // The name is escaped on the page.
    expect(home.body).toContain('Ann &');
    expect(home.body).not.toContain('Ann <b>');
    expect(home.body).toMatch(/<output id="count">0<\/output>/);

    for (let i = 0; i < 2; i++) expect((await send(`${example.url}/count`, { method: 'POST', jar })).status).toBe(303);
    expect((await send(`${example.url}/`, { jar })).body).toMatch(/<output id="count">2<\/output>/);
    expect(example.sessionFiles()).toHaveLength(1);

    const logout = await send(`${example.url}/logout`, { method: 'POST', jar });
    expect(logout.status).toBe(303);
    expect(jar.value()).toBeUndefined();
    expect((await send(`${example.url}/`, { jar })).body).toContain('action="/login"');
    expect(example.sessionFiles()).toEqual([]);
  });
});
