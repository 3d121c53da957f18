import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { tied } from 'tied';
import { destroy, regenerate, sessionOf, withSession, type NodeSessionOptions } from '../../src/index.js';

export const SECRET = 'a-test-secret-that-is-long-enough-0123456789';

interface Data {
  count: number;
  user: string;
}

/** How many times each route's handler ran, for "the handler never ran". */
export const runs = new Map<string, number>();

function reply(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'text/plain', ...headers }).end(body);
}

/**
 * The app the tests drive: every route through withSession. /count increments; /peek only reads;
 * the others are the save-rule cases.
 */
async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const ms = Number(url.searchParams.get('ms') ?? 0);
  runs.set(url.pathname, (runs.get(url.pathname) ?? 0) + 1);
  const session = sessionOf<Data>(req);
  switch (url.pathname) {
    case '/count':
      session.count = (session.count ?? 0) + 1;
      return reply(res, 200, String(session.count));
    case '/peek':
      return reply(res, 200, String(session.count ?? 'none'));
    case '/id':
      return reply(res, 200, session._session_id);
    case '/redirect':
      session.count = (session.count ?? 0) + 1;
      if (url.searchParams.has('force')) tied(session).forceSave = true;
      return reply(res, 302, '', { Location: '/peek' });
    case '/own-cookie':
      // The app's own cookie given to writeHead: both cookies must go out.
      session.count = (session.count ?? 0) + 1;
      res.writeHead(200, { 'Set-Cookie': 'theme=dark; Path=/', 'Content-Type': 'text/plain' });
      return void res.end(String(session.count));
    case '/fail':
      session.count = (session.count ?? 0) + 1;
      return reply(res, 500, 'failed');
    case '/throw':
      session.count = (session.count ?? 0) + 1;
      throw new Error('the handler failed on purpose');
    case '/hold':
      // Holds the session's lock for ms.
      session.count = (session.count ?? 0) + 1;
      await sleep(ms);
      return reply(res, 200, String(session.count));
    case '/read-slow':
      // Reads only, slowly: with a readonly predicate it holds a shared lock for ms.
      await sleep(ms);
      return reply(res, 200, String(session.count ?? 'none'));
    case '/slow-body':
      // Headers and a first chunk, then the rest after ms: a client can cut it off mid-body.
      session.count = (session.count ?? 0) + 1;
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.write('first chunk\n');
      await sleep(ms);
      if (!res.destroyed) res.end('rest\n');
      return;
    case '/stream':
      // A body written without writeHead: the headers go out implicitly with the first chunk.
      session.count = (session.count ?? 0) + 1;
      res.setHeader('Content-Type', 'text/plain');
      res.write('first chunk\n');
      return void res.end('rest\n');
    case '/login': {
      const fresh = await regenerate<Data>(req);
      fresh.user = url.searchParams.get('user') ?? 'ann';
      return reply(res, 303, '', { Location: '/me' });
    }
    case '/me':
      return reply(res, 200, session.user ?? 'nobody');
    case '/logout':
      await destroy(req);
      return reply(res, 303, '', { Location: '/me' });
    case '/poison':
      // A value the json serializer cannot hold: the save fails.
      session.count = 10n as unknown as number;
      return reply(res, 200, 'poisoned');
    case '/late-write':
      // Headers first, then the first write of a new session: no cookie can name it.
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.write('headers out\n');
      session.count = 1;
      return void res.end('done\n');
    default:
      return reply(res, 404, 'not found');
  }
}

export function sessionServer(options: NodeSessionOptions): Server {
  return createServer(withSession({ onError: () => {}, ...options }, route));
}
