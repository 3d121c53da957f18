// The HTTP benchmark's app, in its own process: `node bench/http/server.mjs '<JSON>'` with
// { side: 'tied' | 'express', backend, namespace }. Express 5 with @tied/http's sessionMiddleware
// (as examples/express.mjs) or express-session with its store on the same backend.
//   GET /inc    count++ in the session, answers the new count (creates the session on first use)
//   GET /count  answers the count without changing it
// Prints one JSON line — { port } when listening, { unavailable } or { error } — then serves until
// SIGTERM, when it drops its namespace, closes its connections and exits.
import express from 'express';
import session from 'express-session';
import { NotAvailable } from '../lib/unavailable.mjs';
import { HTTP_BACKENDS } from './backends.mjs';

const SECRET = 'bench-only-secret-0123456789abcdef0123456789';
const { side, backend, namespace } = JSON.parse(process.argv[2]);

async function sessionSetup() {
  const made = await HTTP_BACKENDS[backend][side](namespace);
  if (side === 'tied') {
    const { sessionMiddleware } = await import('@tied/http');
    return { ...made, middleware: sessionMiddleware({ secret: SECRET, flavor: made.flavor }) };
  }
  // express-session as its README recommends for a store: no resave, no empty sessions saved.
  return { ...made, middleware: session({ secret: SECRET, store: made.store, resave: false, saveUninitialized: false }) };
}

try {
  const setup = await sessionSetup();
  const app = express();
  app.use(setup.middleware);
  app.get('/inc', (req, res) => {
    req.session.count = (req.session.count ?? 0) + 1;
    res.send(String(req.session.count));
  });
  app.get('/count', (req, res) => { res.send(String(req.session.count ?? 0)); });
  const server = app.listen(0, '127.0.0.1', () => {
    process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`);
  });
  process.once('SIGTERM', () => {
    server.closeAllConnections();
    server.close(async () => {
      await setup.drop();
      await setup.close();
      process.exit(0);
    });
  });
} catch (error) {
  const answer = error instanceof NotAvailable ? { unavailable: error.message } : { error: error?.stack ?? String(error) };
  process.stdout.write(`${JSON.stringify(answer)}\n`, () => process.exit(answer.error ? 1 : 0));
}
