// Plain node:http with tied sessions: log in, count, log out. `npm run example:http`, open the printed URL.
// Sessions live in files (tied's embedded default; TIED_DIRECTORY moves them), locked per request.
import { createServer } from 'node:http';
import { tied } from 'tied';
import { destroy, regenerate, sessionOf, withSession } from '@tied/http';

// The secret signs the cookie: set SESSION_SECRET (32+ characters) outside development.
const options = { secret: process.env.SESSION_SECRET ?? 'development-only-secret-0123456789abcdef' };

const escape = (text) => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const send = (res, html) => res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' })
  .end(`<!doctype html><meta charset="utf-8"><title>tied + node:http</title>${html}`);
const redirect = (res) => res.writeHead(303, { Location: '/' }).end();
const readForm = async (req) => {
  let body = '';
  for await (const chunk of req) body += chunk;
  return new URLSearchParams(body);
};

// withSession: the session is open around the handler; a handler that throws saves nothing.
const server = createServer(withSession(options, async (req, res) => {
  const session = sessionOf(req);
  if (req.method === 'POST' && req.url === '/login') {
    const name = (await readForm(req)).get('name') ?? '';
    // A new id at login, stored at once: the redirect that follows keeps it.
    (await regenerate(req)).user = name.slice(0, 100) || 'anonymous';
    return redirect(res);
  }
  if (req.method === 'POST' && req.url === '/count') {
    session.count = (session.count ?? 0) + 1;
    tied(session).forceSave = true; // only responses below 300 are saved unless asked
    return redirect(res);
  }
  if (req.method === 'POST' && req.url === '/logout') {
    await destroy(req);
    return redirect(res);
  }
  if (!session.user) {
    return send(res, '<form method="post" action="/login"><label>Name <input name="name" required></label> <button>Log in</button></form>');
  }
  send(res, `<p>Hello <b id="user">${escape(session.user)}</b>, count: <output id="count">${session.count ?? 0}</output></p>
<form method="post" action="/count"><button>+1</button></form>
<form method="post" action="/logout"><button>Log out</button></form>`);
}));

server.listen(Number(process.env.PORT ?? 3000), '127.0.0.1', () => {
  console.log(`node:http example on http://127.0.0.1:${server.address().port}`);
});
