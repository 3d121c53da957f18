import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { Session, SessionData } from '@tied/core';
import { attach, hasSession, isLockTimeout, SessionEngine, stateOf, type RequestSession } from './engine.js';
import type { SessionOptions } from './options.js';

export { CREATED_KEY, SEEN_KEY, SessionSaveError } from './engine.js';
export type { CookieOptions, SessionOptions } from './options.js';
export { MIN_SECRET_LENGTH } from './signature.js';

type Next = (error?: unknown) => void;

/** `sessionMiddleware()`'s options for node:http and Connect/Express. */
export type NodeSessionOptions = SessionOptions<IncomingMessage, ServerResponse>;

export interface SessionMiddleware<Data extends object = SessionData> {
  /**
   * Express/Connect: `app.use(middleware)`. Plain node:http: `if (await middleware(req, res)) …` —
   * resolves to true when the handler may run, false when the middleware already answered (503, 500).
   */
  (req: IncomingMessage, res: ServerResponse, next?: Next): Promise<boolean>;
  /** This request's session, typed with the middleware's `Data`. */
  session(req: IncomingMessage): Session<Partial<Data>>;
}

/** The request's session (what `req.session` holds), typed without declaration merging. */
export function sessionOf<Data extends object = SessionData>(req: IncomingMessage): Session<Partial<Data>> {
  return stateOf(req, 'sessionOf()').session as Session<Partial<Data>>;
}

/**
 * Replaces the request's session with a new, empty one, stored and locked at once (the login
 * pattern: the old id stops working, and a redirect that follows keeps the new session). Returns it.
 */
export async function regenerate<Data extends object = SessionData>(req: IncomingMessage): Promise<Session<Partial<Data>>> {
  return await stateOf(req, 'regenerate()').regenerate() as Session<Partial<Data>>;
}

/** Removes the request's session from the store; the request goes on with a new, lazy one. */
export async function destroy(req: IncomingMessage): Promise<void> {
  await stateOf(req, 'destroy()').destroy();
}

function nodeFacts(req: IncomingMessage, signal: AbortSignal) {
  const proto = req.headers['x-forwarded-proto'];
  return {
    cookieHeader: req.headers.cookie,
    encrypted: (req.socket as Partial<TLSSocket>).encrypted === true,
    forwardedProto: Array.isArray(proto) ? proto[0] : proto,
    signal,
  };
}

/** `req.session` and `req.sessionID` follow the state, so they show the new session after regenerate(). */
function exposeOnRequest(req: IncomingMessage, state: RequestSession<IncomingMessage, ServerResponse>): void {
  Object.defineProperty(req, 'session', { configurable: true, enumerable: true, get: () => state.session });
  Object.defineProperty(req, 'sessionID', { configurable: true, enumerable: true, get: () => state.id });
}

/** The session could not be saved before the end: a 500 instead, or a cut connection when the headers are out. */
function failResponse(res: ServerResponse, end: ServerResponse['end']): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.removeHeader('Set-Cookie');
  res.removeHeader('Content-Length');
  res.statusCode = 500;
  res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  (end as (chunk: string) => ServerResponse).call(res, 'Internal Server Error: the session could not be saved\n');
}

/**
 * writeHead(status, { 'Set-Cookie': ... }) replaces the Set-Cookie headers already set, ours among
 * them: the app's cookies are appended instead, and the rest passed on.
 */
function keepOtherCookies(res: ServerResponse, rest: unknown[]): unknown[] {
  const index = typeof rest[0] === 'string' ? 1 : 0;
  const headers = rest[index];
  if (typeof headers !== 'object' || headers === null || Array.isArray(headers)) return rest;
  const cookieKey = Object.keys(headers).find((name) => name.toLowerCase() === 'set-cookie');
  if (cookieKey === undefined) return rest;
  const { [cookieKey]: cookies, ...others } = headers as Record<string, string | string[]>;
  if (cookies !== undefined) res.appendHeader('Set-Cookie', cookies);
  return rest.map((arg, i) => (i === index ? others : arg));
}

/** What writeHead(status, [message], headers) would have written, kept on the response instead. */
function keepHeadersForLater(res: ServerResponse, rest: unknown[]): ServerResponse {
  const [first, second] = rest;
  if (typeof first === 'string') res.statusMessage = first;
  const headers = typeof first === 'string' ? second : first;
  if (Array.isArray(headers)) {
    // Raw form: [name, value, name, value, ...] or [[name, value], ...].
    const pairs = Array.isArray(headers[0]) ? headers as [string, string][] : Array.from({ length: headers.length / 2 }, (_, i) => [headers[2 * i], headers[2 * i + 1]] as [string, string]);
    for (const [name, value] of pairs) res.appendHeader(name, value);
  } else if (headers !== undefined && headers !== null) {
    for (const [name, value] of Object.entries(headers as Record<string, string | number | string[] | undefined>)) {
      if (value === undefined) continue;
      if (name.toLowerCase() === 'set-cookie') res.appendHeader(name, value as string | string[]);
      else res.setHeader(name, value);
    }
  }
  return res;
}

/**
 * Hooks the response: Set-Cookie goes in when the headers are written; the end waits for the save
 * when it must; after the response the session is saved (or discarded) and released.
 */
function hookResponse(res: ServerResponse, state: RequestSession<IncomingMessage, ServerResponse>, saveBeforeEnd: boolean): void {
  // With saveBeforeEnd the headers stay unwritten until the save is done, so that a failed save can
  // still answer 500: writeHead's status and headers are kept, and the end (or a first write) writes them.
  let keepHeaders = saveBeforeEnd;
  const writeHead = res.writeHead;
  res.writeHead = function (this: ServerResponse, statusCode: number, ...rest: unknown[]) {
    res.writeHead = writeHead;
    res.statusCode = statusCode;
    const cookies = state.decideCookies(statusCode, res);
    if (cookies.length > 0) res.appendHeader('Set-Cookie', cookies);
    if (keepHeaders) return keepHeadersForLater(res, rest);
    return (writeHead as (...args: unknown[]) => ServerResponse).call(this, statusCode, ...keepOtherCookies(res, rest));
  } as ServerResponse['writeHead'];

  if (saveBeforeEnd) {
    const write = res.write;
    res.write = function (this: ServerResponse, ...args: unknown[]) {
      res.write = write;
      // The body starts: the headers must go first (through the hook above if it has not run yet).
      keepHeaders = false;
      if (!res.headersSent) res.writeHead(res.statusCode);
      return (write as (...a: unknown[]) => boolean).apply(this, args);
    } as ServerResponse['write'];
  }

  const end = res.end;
  res.end = function (this: ServerResponse, ...args: unknown[]) {
    res.end = end;
    if (!res.headersSent) {
      const cookies = state.decideCookies(res.statusCode, res);
      if (cookies.length > 0) res.appendHeader('Set-Cookie', cookies);
    }
    if (!state.savesBeforeEnd()) return (end as (...a: unknown[]) => ServerResponse).apply(this, args);
    void state.settle(res.statusCode, res.destroyed, res).then((saved) => {
      if (res.destroyed) return;
      if (saved) (end as (...a: unknown[]) => ServerResponse).apply(this, args);
      else failResponse(res, end);
    });
    return this;
  } as ServerResponse['end'];

  res.once('finish', () => void state.settle(res.statusCode, false, res));
  res.once('close', () => void state.settle(res.statusCode, !res.writableFinished, res));
}

/**
 * The session middleware for node:http and Connect/Express 5: `req.session`, `req.sessionID`.
 * Options are checked here, at start-up (a short secret throws).
 */
export function sessionMiddleware<Data extends object = SessionData>(options: NodeSessionOptions): SessionMiddleware<Data> {
  const engine = new SessionEngine<IncomingMessage, ServerResponse>(options);

  async function middleware(req: IncomingMessage, res: ServerResponse, next?: Next): Promise<boolean> {
    // Already opened by a session middleware mounted earlier: opening it again would wait for our own lock.
    if (hasSession(req)) {
      next?.();
      return true;
    }
    // Aborted when the client goes away while the request waits for the session's lock.
    const clientGone = new AbortController();
    const onClose = () => clientGone.abort();
    res.once('close', onClose);
    let state: RequestSession<IncomingMessage, ServerResponse>;
    try {
      state = await engine.open(req, nodeFacts(req, clientGone.signal));
    } catch (error) {
      if (clientGone.signal.aborted) return false;
      if (isLockTimeout(error)) {
        res.writeHead(503, { 'Retry-After': '1', 'Content-Type': 'text/plain; charset=utf-8' }).end('Service Unavailable: the session is busy\n');
      } else if (next) {
        next(error);
      } else {
        engine.report(error, req);
        if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' }).end('Internal Server Error\n');
      }
      return false;
    } finally {
      res.off('close', onClose);
    }
    if (clientGone.signal.aborted) {
      await state.abandon();
      return false;
    }
    attach(req, state);
    exposeOnRequest(req, state);
    hookResponse(res, state, engine.options.saveBeforeEnd);
    next?.();
    return true;
  }

  return Object.assign(middleware, { session: (req: IncomingMessage) => sessionOf<Data>(req) });
}

/**
 * node:http with the session around a handler: `http.createServer(withSession(options, handler))`.
 * A handler that throws (or rejects) saves nothing and gets a 500 (its error goes to onError).
 */
export function withSession(options: NodeSessionOptions, handler: (req: IncomingMessage, res: ServerResponse) => unknown): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  const middleware = sessionMiddleware(options);
  const onError = options.onError ?? ((error: unknown) => process.stderr.write(`@tied/http: the handler threw: ${(error as Error)?.stack ?? String(error)}\n`));
  return async (req, res) => {
    if (!(await middleware(req, res))) return;
    try {
      await handler(req, res);
    } catch (error) {
      stateOf(req, 'withSession').markThrew();
      onError(error, req);
      if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' }).end('Internal Server Error\n');
      else res.destroy();
    }
  };
}
