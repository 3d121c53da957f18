import type { Session, SessionData } from '@tied/core';
import type { Context, MiddlewareHandler } from 'hono';
import { attach, isLockTimeout, SessionEngine, SessionSaveError, stateOf, type RequestSession } from './engine.js';
import type { SessionOptions } from './options.js';

export { CREATED_KEY, SEEN_KEY, SessionSaveError } from './engine.js';

/** Options for Web-standard handlers: `readonly(request)`, `shouldSave(request, response)`, `onError(error, request)`. */
export type FetchSessionOptions = SessionOptions<Request, Response>;

/** A Web Request, or a Hono context (its `c.req.raw`). */
export type RequestLike = Request | { req: { raw: Request } };

function requestOf(target: RequestLike): Request {
  return target instanceof Request ? target : target.req.raw;
}

/** The request's session, typed. */
export function sessionOf<Data extends object = SessionData>(target: RequestLike): Session<Partial<Data>> {
  return stateOf(requestOf(target), 'sessionOf()').session as Session<Partial<Data>>;
}

/** A new, empty session stored and locked at once; the old one is removed (login). With Hono, `c.get('session')` follows. */
export async function regenerate<Data extends object = SessionData>(target: RequestLike): Promise<Session<Partial<Data>>> {
  const session = await stateOf(requestOf(target), 'regenerate()').regenerate() as Session<Partial<Data>>;
  if (!(target instanceof Request)) (target as unknown as Context).set('session', session);
  return session;
}

/** Removes the session; the request goes on with a lazy new one. With Hono, `c.get('session')` follows. */
export async function destroy(target: RequestLike): Promise<void> {
  const state = stateOf(requestOf(target), 'destroy()');
  await state.destroy();
  if (!(target instanceof Request)) (target as unknown as Context).set('session', state.session);
}

const busy = () => new Response('Service Unavailable: the session is busy\n', { status: 503, headers: { 'Retry-After': '1', 'Content-Type': 'text/plain; charset=utf-8' } });

type FetchState = RequestSession<Request, Response>;

/** The session of this request, or undefined when the lock wait timed out (answer 503). */
async function openFor(engine: SessionEngine<Request, Response>, request: Request): Promise<FetchState | undefined> {
  try {
    const state = await engine.open(request, {
      cookieHeader: request.headers.get('cookie'),
      encrypted: new URL(request.url).protocol === 'https:',
      forwardedProto: request.headers.get('x-forwarded-proto'),
      signal: request.signal,
    });
    attach(request, state);
    return state;
  } catch (error) {
    if (isLockTimeout(error)) return undefined;
    throw error;
  }
}

/**
 * Settles the session before the response is handed back — a fetch handler cannot see when the
 * response has gone out, so it always saves first — and returns the cookies to add. A failed save
 * throws (after onError), which takes the framework's error path.
 */
async function settleBeforeResponse(state: FetchState, request: Request, response: Response): Promise<string[]> {
  const cookies = state.decideCookies(response.status, response);
  if (!(await state.settle(response.status, request.signal.aborted, response))) {
    throw new SessionSaveError(state.id, `Saving session ${state.id} failed; see onError`);
  }
  return cookies;
}

/**
 * Wraps a Web-standard handler (`Request` → `Response`): Deno.serve, Bun.serve, Cloudflare-style
 * workers, @hono/node-server. The session is the handler's second argument.
 */
export function withSession<Data extends object = SessionData>(
  options: FetchSessionOptions,
  handler: (request: Request, session: Session<Partial<Data>>) => Response | Promise<Response>,
): (request: Request) => Promise<Response> {
  const engine = new SessionEngine<Request, Response>(options);
  return async (request) => {
    const state = await openFor(engine, request);
    if (!state) return busy();
    let response: Response;
    try {
      response = await handler(request, state.session as Session<Partial<Data>>);
    } catch (error) {
      state.markThrew();
      await state.abandon();
      throw error;
    }
    const cookies = await settleBeforeResponse(state, request, response);
    if (cookies.length === 0) return response;
    const withCookies = new Response(response.body, response);
    for (const cookie of cookies) withCookies.headers.append('Set-Cookie', cookie);
    return withCookies;
  };
}

/** What the Hono middleware puts on the context: `c.get('session')`. */
export interface SessionVariables<Data extends object = SessionData> {
  session: Session<Partial<Data>>;
}

/** Hono middleware: `app.use(honoSession<MyData>({ secret }))`, then `c.get('session')`. */
export function honoSession<Data extends object = SessionData>(options: FetchSessionOptions): MiddlewareHandler<{ Variables: SessionVariables<Data> }> {
  const engine = new SessionEngine<Request, Response>(options);
  return async (c, next) => {
    const state = await openFor(engine, c.req.raw);
    if (!state) return busy();
    c.set('session', state.session as Session<Partial<Data>>);
    await next();
    // Hono catches a handler's error and answers through app.onError; c.error tells.
    if (c.error !== undefined) {
      state.markThrew();
      await state.abandon();
      return;
    }
    const cookies = await settleBeforeResponse(state, c.req.raw, c.res);
    for (const cookie of cookies) c.header('Set-Cookie', cookie, { append: true });
  };
}
