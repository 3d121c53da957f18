// Type-checked by consumer.test.ts in a project outside the monorepo (strict, NodeNext, no
// skipLibCheck, no database driver installed), then compiled for ES2022 and run on this Node: the
// `await using` below is downlevelled by TypeScript, so it runs on Node 20 too.
import { FileSession, defineSession, memoryLocker, memoryStore, openSession, tied, touch, type Session, type SessionHandle } from 'tied';
import { nanoid } from '@tied/generators';
import { superjson } from '@tied/serializers';

interface Cart {
  items: string[];
  owner: string;
}

const Carts = defineSession({ store: memoryStore(), locker: memoryLocker(), generator: nanoid(), serializer: superjson() });

const created = await Carts.open<Cart>();
created.items = ['mug'];
created.owner = 'Ann';
const id: string = created._session_id;
const handle: SessionHandle = tied(created);
await handle.release();

const cart: Session<Cart> = await Carts.open<Cart>(id);
const owner: string = cart.owner;
cart.items.push('spoon');
touch(cart);
await tied(cart).release();

const count: number = await Carts.with<Cart, number>(id, (session) => session.items.length);

async function defaultSession(): Promise<string> {
  await using session = await openSession<{ visits: number }>();
  session.visits = 1;
  return session._session_id;
}
const defaultId = await defaultSession();
await FileSession.with(defaultId, (session) => tied(session).delete());

console.log(JSON.stringify({ owner, count }));

// Never called: each line must stay a type error (an unused @ts-expect-error fails the check).
export function refusedByTheTypes(session: Session<Cart>): void {
  // @ts-expect-error items is a string[]
  session.items = 3;
  // @ts-expect-error _session_id is read-only
  session._session_id = 'other';
  // @ts-expect-error not a field of Cart
  session.total = 1;
}
