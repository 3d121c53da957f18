// Express 5 with tied sessions: log in, count, log out. `npm run example:express`, open the printed URL.
// Sessions live in files (tied's embedded default; TIED_DIRECTORY moves them), locked per request.
import express from 'express';
import { tied } from 'tied';
import { destroy, regenerate, sessionMiddleware } from '@tied/http';

const app = express();
app.use(express.urlencoded({ extended: false }));
// The secret signs the cookie: set SESSION_SECRET (32+ characters) outside development.
app.use(sessionMiddleware({ secret: process.env.SESSION_SECRET ?? 'development-only-secret-0123456789abcdef' }));

const escape = (text) => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const page = (body) => `<!doctype html><meta charset="utf-8"><title>tied + Express</title>${body}`;

app.get('/', (req, res) => {
  const { user, count = 0 } = req.session;
  if (!user) {
    return res.send(page('<form method="post" action="/login"><label>Name <input name="name" required></label> <button>Log in</button></form>'));
  }
  res.send(page(`<p>Hello <b id="user">${escape(user)}</b>, count: <output id="count">${count}</output></p>
<form method="post" action="/count"><button>+1</button></form>
<form method="post" action="/logout"><button>Log out</button></form>`));
});

app.post('/login', async (req, res) => {
  // A new id at login, stored at once: the redirect that follows keeps it.
  const session = await regenerate(req);
  session.user = String(req.body?.name ?? '').slice(0, 100) || 'anonymous';
  res.redirect(303, '/');
});

app.post('/count', (req, res) => {
  req.session.count = (req.session.count ?? 0) + 1;
  // Only responses below 300 are saved unless asked: this one redirects.
  tied(req.session).forceSave = true;
  res.redirect(303, '/');
});

app.post('/logout', async (req, res) => {
  await destroy(req);
  res.redirect(303, '/');
});

const server = app.listen(Number(process.env.PORT ?? 3000), '127.0.0.1', () => {
  console.log(`Express example on http://127.0.0.1:${server.address().port}`);
});
