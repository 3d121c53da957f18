import { ReadonlySessionError, tied, type Session, type SessionData, type SessionHandle } from '@tied/core';
import { stringifySetCookie } from 'cookie';
import { resolveOptions, type ResolvedOptions, type SessionOptions } from './options.js';
import { signId, verifySignedId, type VerifiedId } from './signature.js';

declare module '@tied/core' {
  interface SessionHandle {
    /** @tied/http: save this request's session although the response's status is ≥ 300 (never an aborted one). */
    forceSave?: boolean;
  }
}

/** Reserved key: when the session was created (ms since the epoch), for `absoluteTimeout`. */
export const CREATED_KEY = '_session_created';
/** Reserved key: when a request last used the session (ms), for `idleTimeout`; refreshed at most every tenth of it. */
export const SEEN_KEY = '_session_seen';

/** A save nobody waits for failed (or a write came too late to be kept); its message names the session id. */
export class SessionSaveError extends Error {
  readonly code = 'ERR_SESSION_SAVE';
  constructor(readonly sessionId: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'SessionSaveError';
  }
}

/** What the engine needs to know about a request, whatever the framework. */
export interface RequestFacts {
  cookieHeader: string | null | undefined;
  /** The request reached this process over TLS. */
  encrypted: boolean;
  /** The `X-Forwarded-Proto` header (believed only with `trustProxy`). */
  forwardedProto: string | null | undefined;
  /** Aborts when the client goes away: a wait for the lock is abandoned. */
  signal: AbortSignal;
}

/** The error codes that mean "this id gives no session": a fresh one instead, never an error page. */
const MISSING_CODES = new Set(['ERR_SESSION_NOT_FOUND', 'ERR_INVALID_SESSION_ID']);

export function isLockTimeout(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === 'ERR_LOCK_TIMEOUT';
}

function handleOf(session: Session<SessionData>): SessionHandle {
  return tied(session)!;
}

/** The values of every cookie called `name` in a Cookie header (a browser may send several, for several paths). */
function cookieValues(header: string | null | undefined, name: string): string[] {
  if (!header) return [];
  const values: string[] = [];
  for (const pair of header.split(';')) {
    const equals = pair.indexOf('=');
    if (equals < 0 || pair.slice(0, equals).trim() !== name) continue;
    let value = pair.slice(equals + 1).trim();
    if (value.startsWith('"') && value.endsWith('"') && value.length >= 2) value = value.slice(1, -1);
    try {
      values.push(decodeURIComponent(value));
    } catch {
      // Not percent-encoding we wrote: not our cookie.
    }
  }
  return values;
}

/** One options object checked once, shared by every request of a middleware or plugin. */
export class SessionEngine<Req, Res> {
  readonly options: ResolvedOptions<Req, Res>;

  constructor(options: SessionOptions<Req, Res>) {
    this.options = resolveOptions(options);
  }

  /**
   * The request's session: the one its signed cookie names (locked for the request), else a lazy new
   * one. Throws LockTimeoutError (answer 503), the signal's reason (client gone), or a backend error.
   */
  async open(req: Req, facts: RequestFacts): Promise<RequestSession<Req, Res>> {
    const readonly = this.options.readonly(req);
    const values = cookieValues(facts.cookieHeader, this.options.cookieName);
    let verified: VerifiedId | undefined;
    for (const value of values) {
      verified = verifySignedId(value, this.options.secrets);
      if (verified) break;
    }
    const session = verified && await this.restore(verified.id, readonly, facts.signal);
    const state = new RequestSession(this, req, facts, readonly, values.length > 0);
    if (session) state.adoptRestored(session, verified!.secretIndex > 0);
    else state.adoptLazy(await this.openLazy());
    return state;
  }

  /** The stored session, or undefined when it is gone, expired or its id is no longer valid. */
  private async restore(id: string, readonly: boolean, signal: AbortSignal): Promise<Session<SessionData> | undefined> {
    let session: Session<SessionData>;
    try {
      session = await this.options.flavor.open<SessionData>(id, { lockTimeout: this.options.lockTimeout, signal, readonly });
    } catch (error) {
      if (MISSING_CODES.has((error as { code?: string }).code ?? '')) return undefined;
      throw error;
    }
    if (!this.expired(session)) return session;
    // A readonly route may not remove it: the next writing request (or purge) does.
    if (readonly) await handleOf(session).release();
    else await handleOf(session).delete();
    return undefined;
  }

  private expired(session: SessionData): boolean {
    const now = Date.now();
    const { absoluteTimeout, idleTimeout } = this.options;
    const created = session[CREATED_KEY];
    const seen = session[SEEN_KEY];
    return (absoluteTimeout !== undefined && typeof created === 'number' && now - created > absoluteTimeout)
      || (idleTimeout !== undefined && typeof seen === 'number' && now - seen > idleTimeout);
  }

  /** A new session that is stored only if it is written: no store round trip, no lock. */
  openLazy(): Promise<Session<SessionData>> {
    return this.options.flavor.open<SessionData>(undefined, { lazy: true, lockTimeout: this.options.lockTimeout }) as Promise<Session<SessionData>>;
  }

  /** A new session, stored and locked at once (for regenerate). */
  openStored(): Promise<Session<SessionData>> {
    return this.options.flavor.open<SessionData>(undefined, { lockTimeout: this.options.lockTimeout }) as Promise<Session<SessionData>>;
  }

  report(error: unknown, req: Req): void {
    try {
      this.options.onError(error, req);
    } catch (reportError) {
      process.stderr.write(`@tied/http: onError threw: ${(reportError as Error)?.message ?? String(reportError)}\n`);
    }
  }
}

/** One request's session from open to release, and the cookie it needs. */
export class RequestSession<Req, Res> {
  session!: Session<SessionData>;
  /** Not stored yet: inserted at release only if written (and allowed to be saved). */
  private lazy = true;
  /** Restored from a cookie signed with an older secret: re-sign it. */
  private resign = false;
  /** Made by regenerate(): stored at once, its cookie always sent, saved on a redirect too. */
  private regenerated = false;
  private threw = false;
  private cookiesDecided = false;
  /** The lazy session's cookie went out, so it must be in the store before the response ends. */
  private lazyCookieSent = false;
  private settled: Promise<boolean> | undefined;

  constructor(
    private readonly engine: SessionEngine<Req, Res>,
    private readonly req: Req,
    private readonly facts: RequestFacts,
    readonly readonly: boolean,
    /** The client sent a cookie by our name: clear it when the response leaves no session behind it. */
    private readonly clientHoldsCookie: boolean,
  ) {}

  /** From the handle: it stays readable after release, unlike the session's keys. */
  get id(): string {
    return handleOf(this.session).id;
  }

  adoptRestored(session: Session<SessionData>, resign: boolean): void {
    this.session = session;
    this.lazy = false;
    this.resign = resign;
  }

  adoptLazy(session: Session<SessionData>): void {
    this.session = session;
    this.lazy = true;
    this.regenerated = false;
  }

  /** The handler threw: nothing of this request is saved. */
  markThrew(): void {
    this.threw = true;
  }

  /** Whether the response may save the session, by the save rules (aborts are checked by the caller). */
  private saveAllowed(status: number, res: Res): boolean {
    if (this.readonly || this.threw) return false;
    const { shouldSave } = this.engine.options;
    const byRule = shouldSave ? shouldSave(this.req, res) : status < 300;
    return byRule || handleOf(this.session).forceSave === true || (this.regenerated && status < 400);
  }

  /**
   * The Set-Cookie values for the response whose headers go out now; called once (later calls give
   * none). A lazy session gets a cookie only if it was written and may be saved.
   */
  decideCookies(status: number, res: Res): string[] {
    if (this.cookiesDecided) return [];
    this.cookiesDecided = true;
    const handle = handleOf(this.session);
    const { rolling } = this.engine.options;
    if (this.lazy) {
      if (!handle.isReleased && handle.isModified && this.saveAllowed(status, res)) {
        this.lazyCookieSent = true;
        return [this.keepCookie()];
      }
      return this.clientHoldsCookie ? [this.clearCookie()] : [];
    }
    if (handle.isDeleted) return this.clientHoldsCookie ? [this.clearCookie()] : [];
    return this.regenerated || this.resign || rolling ? [this.keepCookie()] : [];
  }

  private secureRequest(): boolean {
    const { secure, trustProxy } = this.engine.options;
    if (secure !== 'auto') return secure;
    if (this.facts.encrypted) return true;
    const proto = trustProxy ? this.facts.forwardedProto?.split(',')[0]?.trim().toLowerCase() : undefined;
    return proto === 'https';
  }

  private keepCookie(): string {
    const { cookieName, cookieAttributes, secrets } = this.engine.options;
    return stringifySetCookie(cookieName, signId(this.id, secrets), { ...cookieAttributes, secure: this.secureRequest() });
  }

  private clearCookie(): string {
    const { cookieName, cookieAttributes } = this.engine.options;
    return stringifySetCookie(cookieName, '', { ...cookieAttributes, maxAge: undefined, expires: new Date(0), secure: this.secureRequest() });
  }

  /** Whether the end of the response must wait for the save (saveBeforeEnd, or a new session whose cookie went out). */
  savesBeforeEnd(): boolean {
    return !handleOf(this.session).isReleased && (this.engine.options.saveBeforeEnd || this.lazyCookieSent);
  }

  /**
   * Saves (or discards) by the rules and releases; once per request, later calls share the outcome.
   * Resolves to false when the save failed (already reported through onError); never rejects.
   */
  settle(status: number, aborted: boolean, res: Res): Promise<boolean> {
    this.settled ??= this.saveOrDiscard(aborted ? undefined : { status, res });
    return this.settled;
  }

  /** The client went away: discard and release. */
  abandon(): Promise<boolean> {
    this.settled ??= this.saveOrDiscard(undefined);
    return this.settled;
  }

  /** `response` undefined: the connection was aborted. */
  private async saveOrDiscard(response: { status: number; res: Res } | undefined): Promise<boolean> {
    const session = this.session;
    const handle = handleOf(session);
    if (handle.isReleased) return true;
    const save = response !== undefined && this.saveAllowed(response.status, response.res);
    try {
      if (!save || (this.lazy && !handle.isModified)) {
        await handle.release({ save: false });
        return true;
      }
      if (this.lazy && !this.lazyCookieSent) {
        await handle.release({ save: false });
        this.engine.report(new SessionSaveError(this.id, `Session ${this.id} was first written after the response's headers were sent, so no cookie could name it: discarded`), this.req);
        return true;
      }
      this.stamp(session, handle);
      await handle.release();
      return true;
    } catch (error) {
      // A release that failed has still let go of the lock (core guarantee); the store keeps the previous version.
      this.engine.report(new SessionSaveError(this.id, `Saving session ${this.id} failed: ${(error as Error)?.message ?? String(error)}`, { cause: error }), this.req);
      return false;
    }
  }

  /** The reserved keys a session being saved needs, and alwaysSave's touch. */
  private stamp(session: SessionData, handle: SessionHandle): void {
    const now = Date.now();
    const { idleTimeout, alwaysSave } = this.engine.options;
    if (typeof session[CREATED_KEY] !== 'number') session[CREATED_KEY] = now;
    const seen = session[SEEN_KEY];
    if (idleTimeout !== undefined && (typeof seen !== 'number' || now - seen > idleTimeout / 10)) session[SEEN_KEY] = now;
    if (alwaysSave) handle.touch();
  }

  /** Replaces the session with a new one, stored and locked at once; the old one is removed. */
  async regenerate(): Promise<Session<SessionData>> {
    this.assertChangeable('regenerate');
    await this.dropCurrent();
    const fresh = await this.engine.openStored();
    this.session = fresh;
    this.lazy = false;
    this.regenerated = true;
    return fresh;
  }

  /** Removes the session; the request goes on with a lazy new one (the cookie is cleared unless it is written). */
  async destroy(): Promise<void> {
    this.assertChangeable('destroy');
    await this.dropCurrent();
    this.adoptLazy(await this.engine.openLazy());
  }

  private assertChangeable(what: string): void {
    if (this.readonly) throw new ReadonlySessionError(this.id);
    if (this.cookiesDecided) throw new Error(`${what}() after the response's headers were sent: the new cookie could not be delivered`);
  }

  private async dropCurrent(): Promise<void> {
    const handle = handleOf(this.session);
    if (handle.isReleased) return;
    if (this.lazy) await handle.release({ save: false });
    else await handle.delete();
  }
}

const requestSessions = new WeakMap<object, RequestSession<unknown, unknown>>();

export function attach(key: object, state: RequestSession<any, any>): void {
  requestSessions.set(key, state);
}

export function hasSession(key: object): boolean {
  return requestSessions.has(key);
}

/** The request's session state, or a TypeError saying the middleware is missing. */
export function stateOf(key: object, what: string): RequestSession<unknown, unknown> {
  const state = typeof key === 'object' && key !== null ? requestSessions.get(key) : undefined;
  if (!state) throw new TypeError(`${what}: this request has no tied session; is the session middleware installed before this handler?`);
  return state;
}
