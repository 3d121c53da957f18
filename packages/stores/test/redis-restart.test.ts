import { afterAll, describe, expect, jest } from '@jest/globals';
import { BackendError, defineSession, tied } from '@tied/core';
import { serviceUnavailable, testOrSkip } from '@tied/conformance/jest';
import { nanoid } from '@tied/generators';
import { superjson } from '@tied/serializers';
import { redisLocker, redisStore } from '@tied/stores/redis';
import { RedisServers, freePorts } from './fixtures/redis-servers.js';

// A redis-server of this file's own, killed and restarted under held sessions: the clients tied makes
// from a url handle their 'error' events (nothing reaches ioredis's "Unhandled error event" log, the
// process never crashes), and what fails reaches the session as a typed error.

const servers = new RedisServers();
let port = 0;
/** Persistent (every write fsynced), so a restart keeps the sessions and their leases. */
const startServer = () => servers.start(port, ['--appendonly', 'yes', '--appendfsync', 'always']);
const skip = await serviceUnavailable('a redis-server of its own (redis-server on PATH)', async () => {
  port = (await freePorts(1))[0]!;
  await startServer();
});
const it = testOrSkip(skip);

afterAll(() => servers.stop());

function flavorOnUrl() {
  const url = `redis://127.0.0.1:${port}`;
  return defineSession({ store: redisStore({ url }), locker: redisLocker({ url }), generator: nanoid(), serializer: superjson() });
}

describe('a server killed under a held session, with clients made from a url', () => {
  it('restarted: the release waits for the reconnect and saves; the errors in between are handled', async () => {
    const unhandled = jest.spyOn(console, 'error');
    const flavor = flavorOnUrl();
    try {
      const created = await flavor.open<{ n: number }>();
      created.n = 1;
      await tied(created).release();
      const session = await flavor.open<{ n: number }>(tied(created).id);
      await servers.kill(port);
      session.n = 2;
      const releasing = tied(session).release();
      await new Promise((resolve) => setTimeout(resolve, 300)); // reconnects refused meanwhile
      await startServer();
      await releasing;
      const again = await flavor.open<{ n: number }>(tied(created).id, { readonly: true });
      expect(again.n).toBe(2);
      await tied(again).release();
      expect(unhandled.mock.calls.filter((args) => String(args[0]).includes('Unhandled error event'))).toEqual([]);
    } finally {
      unhandled.mockRestore();
      await flavor.close();
    }
  });

  it('gone for good: closing the flavor fails what waits with BackendError, naming the connection\'s last error', async () => {
    const flavor = flavorOnUrl();
    const created = await flavor.open<{ n: number }>();
    created.n = 1;
    await tied(created).release();
    const session = await flavor.open<{ n: number }>(tied(created).id);
    await servers.kill(port);
    session.n = 2;
    const releasing = tied(session).release().catch((error: unknown) => error);
    await new Promise((resolve) => setTimeout(resolve, 300));
    await flavor.close();
    const error = await releasing;
    expect(error).toBeInstanceOf(BackendError);
    expect((error as Error).message).toMatch(/Connection is closed.*ECONNREFUSED/);
    await startServer();
  });
});
