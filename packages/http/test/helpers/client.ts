import { request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseSetCookie, type SetCookie } from 'cookie';

/** A cookie jar for one host, as a browser keeps it: Set-Cookie stores, an expired one removes. */
export class CookieJar {
  readonly cookies = new Map<string, SetCookie>();

  store(setCookies: readonly string[]): void {
    for (const header of setCookies) {
      const cookie = parseSetCookie(header);
      const expired = (cookie.maxAge !== undefined && cookie.maxAge <= 0) || (cookie.expires !== undefined && cookie.expires.getTime() <= Date.now());
      if (expired) this.cookies.delete(cookie.name);
      else this.cookies.set(cookie.name, cookie);
    }
  }

  header(): string | undefined {
    if (this.cookies.size === 0) return undefined;
    return [...this.cookies.values()].map((cookie) => `${cookie.name}=${cookie.value}`).join('; ');
  }

  value(name = 'tied.sid'): string | undefined {
    return this.cookies.get(name)?.value;
  }
}

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  setCookies: string[];
}

export interface SendOptions {
  method?: string;
  headers?: Record<string, string>;
  jar?: CookieJar;
  body?: string;
}

/** One HTTP request over loopback (a fresh connection each), with the jar's cookies. */
export function send(url: string, options: SendOptions = {}): Promise<Reply> {
  const headers: Record<string, string> = { ...options.headers };
  const cookie = options.jar?.header();
  if (cookie !== undefined && headers.cookie === undefined) headers.cookie = cookie;
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: options.method ?? 'GET', headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => { body += chunk; });
      res.on('error', reject);
      res.on('end', () => {
        const setCookies = res.headers['set-cookie'] ?? [];
        options.jar?.store(setCookies);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, setCookies });
      });
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

/**
 * Starts a request and destroys its socket: after the response's first body bytes (`'mid-body'`)
 * or after `afterMs` without waiting for anything (`'waiting'`).
 */
export function sendAndAbort(url: string, jar: CookieJar, when: { midBody: true } | { afterMs: number }): Promise<void> {
  return new Promise((resolve) => {
    const cookie = jar.header();
    const req = httpRequest(url, { headers: cookie ? { cookie } : {}, agent: false }, (res) => {
      res.once('data', () => {
        if ('midBody' in when) req.destroy();
      });
    });
    req.on('error', () => {});
    req.on('close', () => resolve());
    if ('afterMs' in when) setTimeout(() => req.destroy(), when.afterMs);
    req.end();
  });
}

/** Listens on a free loopback port; returns the base URL. */
export async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

export async function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

/** Polls `check` until it holds, for at most `ms` (a save after the response is not awaited by the client). */
export async function eventually(check: () => Promise<boolean> | boolean, ms = 3000): Promise<boolean> {
  for (const started = Date.now(); Date.now() - started < ms; await new Promise((r) => setTimeout(r, 10))) {
    if (await check()) return true;
  }
  return check();
}
