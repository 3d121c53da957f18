// Run by consumer.test.ts in a project outside the monorepo where the packed tarballs are installed:
// the default session, opened, written, reopened and deleted as a user's script would. Prints one
// JSON line: how long `import('tied')` took and the id.
import { performance } from 'node:perf_hooks';

const started = performance.now();
const { openSession, tied, SessionNotFoundError } = await import('tied');
const importMs = performance.now() - started;

const session = await openSession();
const id = session._session_id;
session.user = { name: 'Ann', state: 'Ohio' };
session.visits = 1;
await tied(session).release();

const again = await openSession(id);
if (again.user?.name !== 'Ann' || again.visits !== 1) throw new Error(`reopened ${id} and read ${JSON.stringify(again)}`);
await tied(again).delete();

try {
  await openSession(id);
  throw new Error(`the deleted session ${id} opened again`);
} catch (error) {
  if (!(error instanceof SessionNotFoundError)) throw error;
}
console.log(JSON.stringify({ importMs, id }));
