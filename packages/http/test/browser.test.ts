import { access, constants, mkdtemp, rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect } from '@jest/globals';
import { serviceUnavailable, testOrSkip } from '@tied/conformance/jest';
import { chromium, type BrowserContext } from 'playwright-core';
import { MemorySession } from 'tied';
import { SECRET, sessionServer } from './helpers/app.js';
import { closeServer, listen } from './helpers/client.js';
import { startExample, type RunningExample } from './helpers/examples.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const skip = await serviceUnavailable(`Chromium at ${CHROMIUM}`, () => access(CHROMIUM, constants.X_OK));
const it = testOrSkip(skip);

let context: BrowserContext | undefined;
const profiles: string[] = [];

/** A fresh headless Chromium profile; extra headers go on every request it makes. */
async function browser(extraHTTPHeaders?: Record<string, string>): Promise<BrowserContext> {
  await context?.close();
  const profile = await mkdtemp(join(tmpdir(), 'http-chromium-'));
  profiles.push(profile);
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
    extraHTTPHeaders,
  });
  return context;
}

afterAll(async () => {
  await context?.close();
  await Promise.all(profiles.map((profile) => rm(profile, { recursive: true, force: true })));
});

describe('the Express example in headless Chromium', () => {
  let example: RunningExample | undefined;
  beforeAll(async () => { if (!skip) example = await startExample('express'); });
  afterAll(async () => { await example?.stop(); });

  it('log in through the form, increment the counter, reload, log out', async () => {
    const page = await (await browser()).newPage();
    await page.goto(example!.url);
    expect(await context!.cookies()).toEqual([]);
    await page.fill('input[name=name]', 'Ann');
    await Promise.all([page.waitForURL(`${example!.url}/`), page.click('text=Log in')]);
    expect(await page.textContent('#user')).toBe('Ann');
    expect(await page.textContent('#count')).toBe('0');

    const [cookie] = await context!.cookies();
    expect(cookie).toMatchObject({ name: 'tied.sid', httpOnly: true, sameSite: 'Lax', secure: false, expires: -1, path: '/' });
    // HttpOnly: the page's scripts cannot read it (the expression runs in the page).
    expect(await page.evaluate('document.cookie')).toBe('');

    await page.click('text=+1');
    await page.waitForFunction("document.querySelector('#count')?.textContent === '1'");
    await page.click('text=+1');
    await page.waitForFunction("document.querySelector('#count')?.textContent === '2'");
    await page.reload();
    expect(await page.textContent('#count')).toBe('2');

    await page.click('text=Log out');
    await page.waitForSelector('input[name=name]');
    expect(await context!.cookies()).toEqual([]);
    expect(example!.sessionFiles()).toEqual([]);
  });
});

describe('cookie attributes as Chromium keeps them', () => {
  let server: Server | undefined;
  let url = '';
  beforeAll(async () => {
    if (skip) return;
    server = sessionServer({ secret: SECRET, flavor: MemorySession, trustProxy: true, cookie: { secure: 'auto', sameSite: 'none', partitioned: true, maxAge: 3_600_000 } });
    url = await listen(server);
  });
  afterAll(async () => { if (server) await closeServer(server); });

  it('Secure (auto, behind X-Forwarded-Proto: https), SameSite=None, HttpOnly, Partitioned, Max-Age', async () => {
    const page = await (await browser({ 'X-Forwarded-Proto': 'https' })).newPage();
    const started = Date.now() / 1000;
    await page.goto(`${url}/count`);
    const cookies = await context!.cookies();
    expect(cookies).toHaveLength(1);
    const [cookie] = cookies;
    expect(cookie).toMatchObject({ name: 'tied.sid', httpOnly: true, secure: true, sameSite: 'None' });
    expect(cookie!.expires).toBeGreaterThan(started + 3590);
    expect(cookie!.expires).toBeLessThan(started + 3610);
    // Chromium keys a Partitioned cookie by the top-level site.
    expect(cookie!.partitionKey).toBe('http://127.0.0.1');
    await page.goto(`${url}/count`);
    expect(await page.textContent('body')).toBe('2');
  });
});
