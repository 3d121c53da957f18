// What tied is for, in one run: `npm start`. Copy it: only `tied` is imported.
//
// A session is an object you read and write like a plain object. It is *tied* to a store (here the
// embedded default: one file per session, nothing to install) and locked from open to release, so
// processes that open the same session take turns and no update is lost.
import { spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { defaultDirectory, openSession, tied, touch } from 'tied';

const visit = new URL('./start-visit.mjs', import.meta.url).pathname;
const show = (value) => JSON.stringify(value);

// 1. A new session: an id is generated and the session is stored and locked at once.
const session = await openSession();
const id = session._session_id;
session.user = { name: 'Ann', state: 'Ohio', roles: ['editor'] };
session.visits = 1;
await tied(session).release(); // saves (it was modified) and unlocks; `await using` does this at end of scope
console.log(`1. openSession() created session ${id}`);
console.log(`   wrote user = ${show({ name: 'Ann', state: 'Ohio', roles: ['editor'] })}, visits = 1`);
console.log(`   saved to ${join(defaultDirectory, id)} (${statSync(join(defaultDirectory, id)).size} bytes; set TIED_DIRECTORY to move it)`);

// 2. Another process opens the same session by id while we hold it: it waits for our lock.
const mine = await openSession(id);
console.log('\n2. We open it again and hold it; a separate process opens it too:');
const other = spawn(process.execPath, [visit, id], { stdio: 'inherit' });
const otherDone = new Promise((resolve, reject) => other.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`start-visit.mjs exited with ${code}`)))));
await new Promise((resolve) => setTimeout(resolve, 500));
mine.visits = 2;
console.log('   we set visits = 2 and release after 500 ms');
await tied(mine).release();
await otherDone;

const after = await openSession(id, { readonly: true });
console.log(`   reopened here: visits = ${after.visits}, lastVisitor = ${show(after.lastVisitor)} — no update lost`);
await tied(after).release();

// 3. The Apache::Session gotcha: only top-level writes mark the session modified.
const nested = await openSession(id);
nested.user.state = 'Texas'; // a nested change: not tracked
await tied(nested).release();
const check = await openSession(id);
console.log(`\n3. user.state = 'Texas' (a nested change) and release → reopened, state is ${show(check.user.state)}: not saved`);
check.user.state = 'Texas';
touch(check); // sets _session_timestamp at the top level: the whole session is saved
await tied(check).release();
const touched = await openSession(id);
console.log(`   the same change plus touch(session) → reopened, state is ${show(touched.user.state)}: saved`);

// 4. delete() removes the stored session.
await tied(touched).delete();
console.log(`\n4. tied(session).delete() removed it; opening ${id} now fails:`);
try {
  await openSession(id);
} catch (error) {
  console.log(`   ${error.name}: ${error.message}`);
}
