// The separate process of `npm start`: opens the session given by id, shows it, records a visit.
import { openSession, tied } from 'tied';

const id = process.argv[2];
const started = Date.now();
const session = await openSession(id);
console.log(`   [other process ${process.pid}] got the session after waiting ${Date.now() - started} ms for the lock`);
console.log(`   [other process ${process.pid}] sees user.name = ${JSON.stringify(session.user.name)}, visits = ${session.visits}`);
session.visits += 1;
session.lastVisitor = `process ${process.pid}`;
console.log(`   [other process ${process.pid}] sets visits = ${session.visits} and releases`);
await tied(session).release();
