// Hono with tied sessions: log in, count, log out. `npm run example:hono`, open the printed URL.
// Sessions live in files (tied's embedded default; TIED_DIRECTORY moves them), locked per request.
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { html, raw } from 'hono/html';
import { tied } from 'tied';
import { destroy, honoSession, regenerate } from '@tied/http/fetch';

const app = new Hono();
// The secret signs the cookie: set SESSION_SECRET (32+ characters) outside development.
app.use(honoSession({ secret: process.env.SESSION_SECRET ?? 'development-only-secret-0123456789abcdef' }));

const page = (c, body) => c.html(html`<!doctype html><meta charset="utf-8"><title>tied + Hono</title>${body}`);

app.get('/', (c) => {
  const { user, count = 0 } = c.get('session');
  if (!user) {
    return page(c, raw('<form method="post" action="/login"><label>Name <input name="name" required></label> <button>Log in</button></form>'));
  }
  // html`` escapes what it interpolates.
  return page(c, html`<p>Hello <b id="user">${user}</b>, count: <output id="count">${count}</output></p>
<form method="post" action="/count"><button>+1</button></form>
<form method="post" action="/logout"><button>Log out</button></form>`);
});

app.post('/login', async (c) => {
  const { name } = await c.req.parseBody();
  // A new id at login, stored at once: the redirect that follows keeps it.
  const session = await regenerate(c);
  session.user = String(name ?? '').slice(0, 100) || 'anonymous';
  return c.redirect('/', 303);
});

app.post('/count', (c) => {
  const session = c.get('session');
  session.count = (session.count ?? 0) + 1;
  // Only responses below 300 are saved unless asked: this one redirects.
  tied(session).forceSave = true;
  return c.redirect('/', 303);
});

app.post('/logout', async (c) => {
  await destroy(c);
  return c.redirect('/', 303);
});

serve({ fetch: app.fetch, port: Number(process.env.PORT ?? 3000), hostname: '127.0.0.1' }, (info) => {
  console.log(`Hono example on http://127.0.0.1:${info.port}`);
});
