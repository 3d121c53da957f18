// Fastify 5 with tied sessions: log in, count, log out. `npm run example:fastify`, open the printed URL.
// Sessions live in files (tied's embedded default; TIED_DIRECTORY moves them), locked per request.
import Fastify from 'fastify';
import { tied } from 'tied';
import { destroy, regenerate, tiedSession } from '@tied/http/fastify';

const app = Fastify();
app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (request, body, done) => done(null, new URLSearchParams(body)));
// The secret signs the cookie: set SESSION_SECRET (32+ characters) outside development.
await app.register(tiedSession, { secret: process.env.SESSION_SECRET ?? 'development-only-secret-0123456789abcdef' });

const escape = (text) => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const page = (reply, body) => reply.type('text/html; charset=utf-8').send(`<!doctype html><meta charset="utf-8"><title>tied + Fastify</title>${body}`);

app.get('/', (request, reply) => {
  const { user, count = 0 } = request.session;
  if (!user) {
    return page(reply, '<form method="post" action="/login"><label>Name <input name="name" required></label> <button>Log in</button></form>');
  }
  return page(reply, `<p>Hello <b id="user">${escape(user)}</b>, count: <output id="count">${count}</output></p>
<form method="post" action="/count"><button>+1</button></form>
<form method="post" action="/logout"><button>Log out</button></form>`);
});

app.post('/login', async (request, reply) => {
  // A new id at login, stored at once: the redirect that follows keeps it.
  const session = await regenerate(request);
  session.user = (request.body?.get('name') ?? '').slice(0, 100) || 'anonymous';
  return reply.redirect('/', 303);
});

app.post('/count', async (request, reply) => {
  request.session.count = (request.session.count ?? 0) + 1;
  // Only responses below 300 are saved unless asked: this one redirects.
  tied(request.session).forceSave = true;
  return reply.redirect('/', 303);
});

app.post('/logout', async (request, reply) => {
  await destroy(request);
  return reply.redirect('/', 303);
});

const address = await app.listen({ port: Number(process.env.PORT ?? 3000), host: '127.0.0.1' });
console.log(`Fastify example on ${address}`);
