// Compiled by `npm run typecheck:tests` (part of `npm test`), never run: each @ts-expect-error
// line must stay an error, and the other lines must compile.
import type { IncomingMessage } from 'node:http';
import type { FastifyRequest } from 'fastify';
import { Hono } from 'hono';
import { tied } from 'tied';
import { regenerate, sessionMiddleware, sessionOf } from '../src/index.js';
import { sessionOf as fastifySessionOf } from '../src/fastify.js';
import { honoSession } from '../src/fetch.js';

interface Account { user: string; visits: number }

export async function typedSessions(req: IncomingMessage, request: FastifyRequest): Promise<void> {
  const sessions = sessionMiddleware<Account>({ secret: 'x'.repeat(32) });
  const session = sessions.session(req);
  const visits: number | undefined = session.visits;
  session.visits = (visits ?? 0) + 1;
  // @ts-expect-error visits is a number
  session.visits = 'many';
  // @ts-expect-error not a field of Account
  session.nope = 1;
  // @ts-expect-error a new session may not have its fields yet
  const user: string = sessionOf<Account>(req).user;
  (await regenerate<Account>(req)).user = user;
  // The forceSave flag @tied/http adds to tied's handle.
  tied(session).forceSave = true;
  // @ts-expect-error forceSave is a boolean
  tied(session).forceSave = 'yes';
  fastifySessionOf<Account>(request).visits = 1;
  // request.session is there untyped, for Express habits.
  request.session.anything = true;
  // @ts-expect-error secret is required
  sessionMiddleware({});
  // @ts-expect-error cookie.sameSite takes lax, strict, none or a boolean
  sessionMiddleware({ secret: 'x'.repeat(32), cookie: { sameSite: 'sometimes' } });

  const app = new Hono().use(honoSession<Account>({ secret: 'x'.repeat(32) }));
  app.get('/', (c) => c.text(String(c.get('session').visits ?? 0)));
}
