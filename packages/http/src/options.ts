import type { Flavor } from '@tied/core';
import { FileSession } from 'tied';
import { stringifySetCookie, type SerializeOptions } from 'cookie';
import { secretList } from './signature.js';

/** The session cookie's attributes. */
export interface CookieOptions {
  /** Default `tied.sid`. */
  name?: string;
  /** Default `/`. */
  path?: string;
  domain?: string;
  /** Milliseconds (as express-session); sent as `Max-Age` in seconds. Neither this nor `expires`: a browser-session cookie. */
  maxAge?: number;
  expires?: Date;
  /** `'auto'`: Secure when the request came over HTTPS (`X-Forwarded-Proto` too when `trustProxy`). Default false. */
  secure?: boolean | 'auto';
  /** Default true. */
  httpOnly?: boolean;
  /** Default `'lax'`. */
  sameSite?: 'lax' | 'strict' | 'none' | boolean;
  /** CHIPS: the `Partitioned` attribute (needs Secure). */
  partitioned?: boolean;
  priority?: 'low' | 'medium' | 'high';
}

/**
 * What every adapter takes. `Req` and `Res` are the framework's request and response (node:http's
 * IncomingMessage and ServerResponse, Fastify's request and reply, the Web Request and Response).
 */
export interface SessionOptions<Req = unknown, Res = unknown> {
  /** ≥ 32 characters, or an array of them: sign with the first, accept any (rotation). */
  secret: string | readonly string[];
  /** Any tied flavor. Default: `FileSession` from 'tied', the embedded default. */
  flavor?: Flavor;
  cookie?: CookieOptions;
  /** Send the cookie on every response of a stored session (renews `maxAge`). Default false. */
  rolling?: boolean;
  /** Believe `X-Forwarded-Proto` for `secure: 'auto'`. Default false. */
  trustProxy?: boolean;
  /** Touch every session that is saved, so each such request writes it (the seed's `a2c_timestamp`). */
  alwaysSave?: boolean;
  /** Replaces the status rule (`status < 300`): whether this response's session may be saved. */
  shouldSave?: (req: Req, res: Res) => boolean;
  /** Hold back the end of the response until the session is saved; a failed save becomes a 500. */
  saveBeforeEnd?: boolean;
  /** Milliseconds to wait for the session's lock before answering 503. Default 10,000. */
  lockTimeout?: number;
  /** `true` (a middleware for read-only routes) or a predicate: a shared lock, never saved. */
  readonly?: boolean | ((req: Req) => boolean);
  /** Milliseconds: a session not used for longer is treated as missing (and removed). */
  idleTimeout?: number;
  /** Milliseconds: a session older than this since its creation is replaced, whatever its use. */
  absoluteTimeout?: number;
  /** A failure nobody else can see (a save after the response). Default: one line on stderr. */
  onError?: (error: unknown, req: Req) => void;
}

const KNOWN_OPTIONS = ['secret', 'flavor', 'cookie', 'rolling', 'trustProxy', 'alwaysSave', 'shouldSave', 'saveBeforeEnd', 'lockTimeout', 'readonly', 'idleTimeout', 'absoluteTimeout', 'onError'];
const KNOWN_COOKIE_OPTIONS = ['name', 'path', 'domain', 'maxAge', 'expires', 'secure', 'httpOnly', 'sameSite', 'partitioned', 'priority'];

/** The options checked once, at start-up, with their defaults filled in. */
export interface ResolvedOptions<Req, Res> {
  secrets: readonly string[];
  flavor: Flavor;
  cookieName: string;
  /** The attributes of a Set-Cookie that keeps the session; `secure` is decided per request. */
  cookieAttributes: SerializeOptions;
  secure: boolean | 'auto';
  rolling: boolean;
  trustProxy: boolean;
  alwaysSave: boolean;
  shouldSave: ((req: Req, res: Res) => boolean) | undefined;
  saveBeforeEnd: boolean;
  lockTimeout: number;
  readonly: (req: Req) => boolean;
  idleTimeout: number | undefined;
  absoluteTimeout: number | undefined;
  onError: (error: unknown, req: Req) => void;
}

function unknownKeys(given: object, known: string[], what: string): void {
  for (const key of Object.keys(given)) {
    if (!known.includes(key)) throw new TypeError(`Unknown ${what} option '${key}'; known: ${known.join(', ')}`);
  }
}

function positiveMs(value: unknown, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) throw new TypeError(`${name} must be a positive number of milliseconds, got ${String(value)}`);
  return value;
}

function optionalFunction<F>(value: unknown, name: string): F | undefined {
  if (value !== undefined && typeof value !== 'function') throw new TypeError(`${name} must be a function, got ${typeof value}`);
  return value as F | undefined;
}

function defaultOnError(error: unknown): void {
  // SessionSaveError's message names the session id; nothing here prints the session's data.
  process.stderr.write(`@tied/http: ${error instanceof Error ? error.message : String(error)}\n`);
}

export function resolveOptions<Req, Res>(options: SessionOptions<Req, Res>): ResolvedOptions<Req, Res> {
  if (typeof options !== 'object' || options === null) throw new TypeError('session options must be an object with at least a secret');
  unknownKeys(options, KNOWN_OPTIONS, 'session');
  const secrets = secretList(options.secret);
  const flavor = options.flavor;
  if (flavor !== undefined && typeof (flavor as Partial<Flavor>)?.open !== 'function') throw new TypeError('flavor must be a tied Flavor (FileSession, MemorySession, defineSession(...), ...)');
  const cookie = options.cookie ?? {};
  if (typeof cookie !== 'object' || cookie === null) throw new TypeError('cookie must be an object');
  unknownKeys(cookie, KNOWN_COOKIE_OPTIONS, 'cookie');
  const secure = cookie.secure ?? false;
  if (secure !== true && secure !== false && secure !== 'auto') throw new TypeError(`cookie.secure must be true, false or 'auto', got ${String(secure)}`);
  const sameSite = cookie.sameSite ?? 'lax';
  if (cookie.partitioned && secure === false) throw new TypeError('cookie.partitioned needs cookie.secure (true or \'auto\'): browsers drop a Partitioned cookie that is not Secure');
  if ((sameSite === 'none') && secure === false) throw new TypeError('cookie.sameSite \'none\' needs cookie.secure (true or \'auto\'): browsers drop a SameSite=None cookie that is not Secure');
  const maxAge = positiveMs(cookie.maxAge, 'cookie.maxAge');
  if (cookie.expires !== undefined && !(cookie.expires instanceof Date && Number.isFinite(cookie.expires.getTime()))) throw new TypeError('cookie.expires must be a valid Date');
  const cookieAttributes: SerializeOptions = {
    path: cookie.path ?? '/',
    domain: cookie.domain,
    maxAge: maxAge === undefined ? undefined : Math.floor(maxAge / 1000),
    expires: cookie.expires,
    httpOnly: cookie.httpOnly ?? true,
    sameSite,
    partitioned: cookie.partitioned,
    priority: cookie.priority,
  };
  const cookieName = cookie.name ?? 'tied.sid';
  // The cookie package checks the name, path, domain, sameSite and priority: let it fail now, not per request.
  stringifySetCookie(cookieName, 'probe', cookieAttributes);
  const readonly = options.readonly ?? false;
  if (typeof readonly !== 'boolean' && typeof readonly !== 'function') throw new TypeError(`readonly must be a boolean or a function of the request, got ${typeof readonly}`);
  return {
    secrets,
    flavor: flavor ?? FileSession,
    cookieName,
    cookieAttributes,
    secure,
    rolling: options.rolling === true,
    trustProxy: options.trustProxy === true,
    alwaysSave: options.alwaysSave === true,
    shouldSave: optionalFunction(options.shouldSave, 'shouldSave'),
    saveBeforeEnd: options.saveBeforeEnd === true,
    lockTimeout: positiveMs(options.lockTimeout, 'lockTimeout') ?? 10_000,
    readonly: typeof readonly === 'function' ? readonly : () => readonly,
    idleTimeout: positiveMs(options.idleTimeout, 'idleTimeout'),
    absoluteTimeout: positiveMs(options.absoluteTimeout, 'absoluteTimeout'),
    onError: optionalFunction(options.onError, 'onError') ?? defaultOnError,
  };
}
