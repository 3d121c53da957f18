// Compiled by `npm run typecheck:tests` (part of `npm test`), never run: each @ts-expect-error
// line must stay an error, and the other lines must compile.
import { MemorySession, defineSession, memoryLocker, memoryStore, openSession, tied, touch, type Session } from 'tied';
import { nanoid } from '@tied/generators';
import { superjson } from '@tied/serializers';

interface Cart { items: { sku: string; qty: number }[]; owner?: string }

export async function typedUsage(): Promise<void> {
  const flavor = defineSession({ store: memoryStore(), locker: memoryLocker(), generator: nanoid(), serializer: superjson() });
  await using cart = await flavor.open<Cart>();
  cart.items = [{ sku: 'MUG', qty: 1 }];
  const id: string = cart._session_id;
  // @ts-expect-error _session_id is read-only
  cart._session_id = 'x';
  // @ts-expect-error qty is a number
  cart.items = [{ sku: 'MUG', qty: 'one' }];
  // @ts-expect-error not a field of Cart
  cart.nope = 1;
  const typed: Session<Cart> = await MemorySession.open<Cart>(id);
  typed.owner = 'Ann';
  touch(typed);
  const handle = tied(typed);
  if (handle) await handle.release();

  await using loose = await openSession();
  loose.anything = { nested: true };
  loose.anything.nested = false;
  await openSession(id, { store: 'Memory', lock: 'Memory', lockTimeout: 100, readonly: true });
  // @ts-expect-error lockTimeout is a number of ms
  await openSession(id, { lockTimeout: '1s' });
}
