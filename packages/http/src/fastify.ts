import type { TLSSocket } from 'node:tls';
import type { Session, SessionData } from '@tied/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { attach, isLockTimeout, SessionEngine, stateOf, type RequestSession } from './engine.js';
import type { SessionOptions } from './options.js';

export { CREATED_KEY, SEEN_KEY, SessionSaveError } from './engine.js';

/** The plugin's options: `readonly(request)`, `shouldSave(request, reply)` and `onError(error, request)` get Fastify's objects. */
export type FastifySessionOptions = SessionOptions<FastifyRequest, FastifyReply>;

declare module 'fastify' {
  interface FastifyRequest {
    /** The tied session (untyped; `sessionOf<Data>(request)` gives it typed). */
    readonly session: Session<SessionData>;
    readonly sessionID: string;
  }
}

type FastifyState = RequestSession<FastifyRequest, FastifyReply>;

/** The request's session, typed without declaration merging. */
export function sessionOf<Data extends object = SessionData>(request: FastifyRequest): Session<Partial<Data>> {
  return stateOf(request, 'sessionOf()').session as Session<Partial<Data>>;
}

/** A new, empty session stored and locked at once; the old one is removed (login). */
export async function regenerate<Data extends object = SessionData>(request: FastifyRequest): Promise<Session<Partial<Data>>> {
  return await stateOf(request, 'regenerate()').regenerate() as Session<Partial<Data>>;
}

/** Removes the session; the request goes on with a lazy new one. */
export async function destroy(request: FastifyRequest): Promise<void> {
  await stateOf(request, 'destroy()').destroy();
}

/**
 * The Fastify 5 plugin: `app.register(tiedSession, { secret, ... })`. Loads the session on request,
 * adds the cookie and (for a new session or `saveBeforeEnd`) saves in onSend, saves after the
 * response in onResponse, discards on onRequestAbort. Not encapsulated: it applies to the routes of
 * the instance that registers it.
 */
export async function tiedSession(fastify: FastifyInstance, options: FastifySessionOptions): Promise<void> {
  const engine = new SessionEngine<FastifyRequest, FastifyReply>(options);
  const states = new WeakMap<FastifyRequest, FastifyState>();

  fastify.decorateRequest('session', { getter(this: FastifyRequest) { return stateOf(this, 'request.session').session; } });
  fastify.decorateRequest('sessionID', { getter(this: FastifyRequest) { return stateOf(this, 'request.sessionID').id; } });

  fastify.addHook('onRequest', async (request, reply) => {
    const clientGone = new AbortController();
    const onClose = () => clientGone.abort();
    reply.raw.once('close', onClose);
    const proto = request.headers['x-forwarded-proto'];
    let state: FastifyState;
    try {
      state = await engine.open(request, {
        cookieHeader: request.headers.cookie,
        encrypted: (request.raw.socket as Partial<TLSSocket>).encrypted === true,
        forwardedProto: Array.isArray(proto) ? proto[0] : proto,
        signal: clientGone.signal,
      });
    } catch (error) {
      if (isLockTimeout(error)) return reply.code(503).header('retry-after', '1').type('text/plain; charset=utf-8').send('Service Unavailable: the session is busy\n');
      throw error;
    } finally {
      reply.raw.off('close', onClose);
    }
    states.set(request, state);
    attach(request, state);
    // A response cut off mid-body ends without onResponse: settle it as aborted.
    reply.raw.once('close', () => void state.settle(reply.statusCode, !reply.raw.writableFinished, reply));
    if (clientGone.signal.aborted) await state.abandon();
    return undefined;
  });

  fastify.addHook('onError', async (request) => {
    states.get(request)?.markThrew();
  });

  fastify.addHook('onSend', async (request, reply, payload) => {
    const state = states.get(request);
    if (!state) return payload;
    const cookies = state.decideCookies(reply.statusCode, reply);
    if (state.savesBeforeEnd() && !(await state.settle(reply.statusCode, request.raw.destroyed, reply))) {
      throw new Error('The session could not be saved');
    }
    for (const cookie of cookies) reply.header('set-cookie', cookie);
    return payload;
  });

  fastify.addHook('onResponse', async (request, reply) => {
    await states.get(request)?.settle(reply.statusCode, !reply.raw.writableFinished, reply);
  });

  fastify.addHook('onRequestAbort', async (request) => {
    await states.get(request)?.abandon();
  });
}

// fastify-plugin's marker, without the dependency: the hooks reach the registering instance's routes.
Object.assign(tiedSession, { [Symbol.for('skip-override')]: true, [Symbol.for('fastify.display-name')]: '@tied/http' });
