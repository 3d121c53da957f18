import { afterAll, beforeAll, describe, expect } from '@jest/globals';
import { testOrSkip } from '@tied/conformance/jest';
import type { Redis } from 'ioredis';
import { SessionCorruptError, SessionExistsError, SessionNotFoundError, SessionTooLargeError, defineSession, memoryLocker, tied, type Flavor, type Lock } from '@tied/core';
import { nanoid } from '@tied/generators';
import { redisLocker } from '@tied/lockers/redis';
import { superjson } from '@tied/serializers';
import { BackendError, LockLostError, redisStore } from '@tied/stores/redis';
import { REDIS_URL, freshPrefix, redisClient, redisProxy, redisUnavailable, removeKeys, type RedisProxy } from './fixtures/redis-kit.js';

const skip = await redisUnavailable();
const it = testOrSkip(skip);

const prefix = freshPrefix('fused');
const admin = redisClient();
const clients: Redis[] = [];
const flavors: Flavor[] = [];

/** A client of its own, disconnected after the file. */
function client(options: Parameters<typeof redisClient>[0] = {}, url?: string): Redis {
  const made = redisClient(options, url);
  clients.push(made);
  return made;
}

/** Sessions on `on`: redisStore + redisLocker on that one client, so they fuse. */
function flavorOn(on: Redis, options: { ttl?: number; lease?: number; maxPayloadBytes?: number; replicas?: number } = {}): Flavor {
  const flavor = defineSession({
    store: redisStore({ client: on, prefix, ttl: options.ttl, maxPayloadBytes: options.maxPayloadBytes, replicas: options.replicas, replicaTimeout: 50 }),
    locker: redisLocker({ client: on, prefix, lease: options.lease }),
    generator: nanoid(),
    serializer: superjson(),
  });
  flavors.push(flavor);
  return flavor;
}

type Counter = { count: number };

/** A new session holding `{ count }`; returns its id. */
async function created(flavor: Flavor, count = 0): Promise<string> {
  const session = await flavor.open<Counter>();
  session.count = count;
  await tied(session)!.release();
  return tied(session)!.id;
}

async function countOf(id: string): Promise<number> {
  const data = await admin.hget(`${prefix}{${id}}`, 'd');
  return superjson().unserialize(data!).count as number;
}

const lockKeyOf = (id: string) => `${prefix}lock:{${id}}`;

afterAll(async () => {
  for (const flavor of flavors) await flavor.close();
  if (!skip) await removeKeys(admin, prefix);
  // A client whose connection already ended would wait 2 s for a close that never comes.
  for (const made of [admin, ...clients]) if (made.status !== 'end') made.disconnect();
});

describe('round trips of the fused cycle, counted on the wire', () => {
  let proxy: RedisProxy;
  let proxied: Redis;
  let flavor: Flavor;
  let id: string;

  beforeAll(async () => {
    if (skip) return;
    proxy = await redisProxy();
    proxied = client({}, proxy.url);
    flavor = flavorOn(proxied);
    // Connect and let the server cache every script once (a server that never saw a script costs one more trip the first time).
    id = await created(flavor);
    const warm = await flavor.open<Counter>(id);
    warm.count = 0;
    await tied(warm)!.save();
    await tied(warm)!.release();
    await tied(await flavor.open(id, { readonly: true }))!.release();
  });
  afterAll(async () => {
    // Before the proxy goes, or ioredis keeps trying to reconnect to it.
    proxied?.disconnect();
    await proxy?.close();
  });

  const roundTripsOf = async (cycle: () => Promise<unknown>) => {
    proxy.reset();
    await cycle();
    return proxy.roundTrips;
  };

  it('open by id, one top-level write, release: 2 round trips (lock+read, write+unlock)', async () => {
    expect(await roundTripsOf(async () => {
      const session = await flavor.open<Counter>(id);
      session.count += 1;
      await tied(session)!.release();
    })).toBe(2);
    expect(await countOf(id)).toBe(1);
  });

  it('a new session, one write, release: 2 round trips (lock+insert, write+unlock)', async () => {
    expect(await roundTripsOf(async () => {
      const session = await flavor.open<Counter>();
      session.count = 7;
      await tied(session)!.release();
    })).toBe(2);
  });

  it('a readonly open and release: 2; an unknown id: 1; a save() in between: 1 more', async () => {
    expect(await roundTripsOf(async () => tied(await flavor.open(id, { readonly: true }))!.release())).toBe(2);
    expect(await roundTripsOf(() => expect(flavor.open('x'.repeat(21))).rejects.toBeInstanceOf(SessionNotFoundError))).toBe(1);
    expect(await roundTripsOf(async () => {
      const session = await flavor.open<Counter>(id);
      session.count += 1;
      await tied(session)!.save();
      session.count += 1;
      await tied(session)!.release();
    })).toBe(3);
  });

  it('with replicas, WAIT travels with the write; too few replicas is BackendError (the compare-and-delete after a failed write: 1 more), the lock freed', async () => {
    const connected = Number(/connected_slaves:(\d+)/.exec(await admin.info('replication'))![1]);
    const waiting = flavorOn(proxied, { replicas: connected + 1 });
    let error: unknown;
    expect(await roundTripsOf(async () => {
      const session = await waiting.open<Counter>(id);
      session.count = 50;
      error = await tied(session).release().catch((e: unknown) => e);
    })).toBe(3);
    expect(error).toBeInstanceOf(BackendError);
    expect((error as Error).message).toMatch(new RegExp(`only ${connected} of the ${connected + 1} replicas asked for confirmed it within 50 ms`));
    expect(await admin.exists(lockKeyOf(id))).toBe(0);
    // A new session: the lease its insert took is freed too.
    await expect(waiting.open<Counter>()).rejects.toBeInstanceOf(BackendError);
    expect(await admin.keys(`${prefix}lock:*`)).toEqual([]);
    const again = await flavor.open<Counter>(id);
    again.count = 0;
    await tied(again).release();
  });

  it('open and delete(): 2 round trips (lock+read, fenced remove+unlock)', async () => {
    const doomed = await created(flavor);
    expect(await roundTripsOf(async () => tied(await flavor.open(doomed)).delete())).toBe(2);
    expect(await admin.exists(`${prefix}{${doomed}}`)).toBe(0);
    expect(await admin.exists(lockKeyOf(doomed))).toBe(0);
  });
});

describe('fencing: a write under a lease that ran out is refused', () => {
  it('a holder stalled past its lease (event loop blocked) cannot overwrite the next holder', async () => {
    const a = flavorOn(client(), { lease: 150 });
    const b = flavorOn(client());
    const id = await created(a);
    await tied(await b.open(id))!.release(); // b's client is connected, so its next command leaves at once
    const stalled = await a.open<Counter>(id);
    stalled.count = 100;
    const until = Date.now() + 400;
    while (Date.now() < until); // a GC pause: the renewal timer cannot run, the lease expires in Redis
    const next = await b.open<Counter>(id, { lockTimeout: 1000 });
    const error = await tied(stalled)!.release().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LockLostError);
    expect((error as LockLostError).code).toBe('ERR_LOCK_LOST');
    expect(await countOf(id)).toBe(0);
    next.count += 1;
    await tied(next)!.release();
    expect(await countOf(id)).toBe(1);
  });

  it('save() and delete() under a lost lease are refused too; nothing stored changes', async () => {
    const flavor = flavorOn(client());
    const id = await created(flavor, 5);
    const session = await flavor.open<Counter>(id);
    await admin.del(lockKeyOf(id)); // the lease ran out, whoever holds it now
    session.count = 6;
    await expect(tied(session)!.save()).rejects.toBeInstanceOf(LockLostError);
    await expect(tied(session)!.delete()).rejects.toBeInstanceOf(LockLostError);
    expect(await countOf(id)).toBe(5);
    const again = await flavor.open<Counter>(id, { lockTimeout: 1000 });
    expect(again.count).toBe(5);
    await tied(again)!.release();
  });
});

describe('fencing: a lock this process released is a lost lock', () => {
  it('updateLocked, updateAndRelease and removeAndRelease with it: LockLostError, the next holder\'s session untouched', async () => {
    const on = client();
    const store = redisStore({ client: on, prefix });
    const locker = redisLocker({ client: on, prefix });
    const access = store.fuse!(locker)!;
    const id = await created(flavorOn(on), 1);
    for (const write of [
      (lock: Lock) => access.updateLocked(lock, id, superjson().serialize({ count: 99 })),
      (lock: Lock) => access.updateAndRelease(lock, id, superjson().serialize({ count: 99 })),
      (lock: Lock) => access.removeAndRelease(lock, id),
    ]) {
      const { lock } = await access.lockAndMaterialize(id, 'write', {});
      await lock.release();
      const next = await locker.acquire(id, 'write', { timeout: 1000 });
      await expect(write(lock)).rejects.toBeInstanceOf(LockLostError);
      await next.release();
      expect(await countOf(id)).toBe(1);
    }
    await expect(access.updateLocked({ id, mode: 'write', release: async () => {} }, id, 'x')).rejects.toThrow(/not one of this redisLocker's/);
  });
});

describe('the connection killed mid-cycle (CLIENT KILL)', () => {
  it('between open and release: ioredis reconnects, the release saves, the lock is freed', async () => {
    const victim = client();
    const flavor = flavorOn(victim);
    const id = await created(flavor);
    const session = await flavor.open<Counter>(id);
    session.count = 1;
    await admin.client('KILL', 'ID', String(await victim.client('ID')));
    await tied(session)!.release();
    expect(await countOf(id)).toBe(1);
    expect(await admin.exists(lockKeyOf(id))).toBe(0);
  });

  it('after the write+unlock ran but before its reply: the resent script knows it was applied', async () => {
    const proxy = await redisProxy();
    const victim = client({}, proxy.url);
    try {
      const flavor = flavorOn(victim);
      const id = await created(flavor);
      const session = await flavor.open<Counter>(id);
      session.count = 1;
      proxy.dropReplies = true;
      const dropped = proxy.replyDropped();
      const releasing = tied(session)!.release();
      await dropped;
      proxy.dropReplies = false;
      for (const address of proxy.serverSideAddresses()) await admin.client('KILL', 'ADDR', address);
      await releasing;
      expect(await countOf(id)).toBe(1);
      expect(await admin.exists(lockKeyOf(id))).toBe(0);
    } finally {
      victim.disconnect();
      await proxy.close();
    }
  });

  it('a client that does not reconnect: BackendError, the stored version whole, the lock freed when its lease ends', async () => {
    const victim = client({ retryStrategy: () => null });
    const flavor = flavorOn(victim, { lease: 300 });
    const id = await created(flavor, 10);
    const session = await flavor.open<Counter>(id);
    session.count = 11;
    const ended = new Promise((resolve) => victim.once('end', resolve));
    await admin.client('KILL', 'ID', String(await victim.client('ID')));
    await ended;
    const error = await tied(session)!.release().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BackendError);
    expect((error as BackendError).code).toBe('ERR_BACKEND');
    expect(await countOf(id)).toBe(10);
    const next = await flavorOn(client()).open<Counter>(id, { lockTimeout: 3000 });
    expect(next.count).toBe(10);
    next.count = 12;
    await tied(next)!.release();
    expect(await countOf(id)).toBe(12);
  });
});

describe('ttl, updatedAt and maxAge', () => {
  it('every write sets the ttl (PEXPIRE); a store without ttl makes the session persistent', async () => {
    const on = client();
    const flavor = flavorOn(on, { ttl: 60_000 });
    const id = await created(flavor);
    await admin.pexpire(`${prefix}{${id}}`, 10_000);
    const session = await flavor.open<Counter>(id);
    session.count = 1;
    await tied(session)!.release();
    expect(await admin.pttl(`${prefix}{${id}}`)).toBeGreaterThan(50_000);
    const persistent = flavorOn(on);
    const again = await persistent.open<Counter>(id);
    again.count = 2;
    await tied(again)!.release();
    expect(await admin.pttl(`${prefix}{${id}}`)).toBe(-1);
  });

  it('reads do not extend the ttl; Redis expires the session', async () => {
    const flavor = flavorOn(client(), { ttl: 400 });
    const id = await created(flavor);
    await new Promise((resolve) => setTimeout(resolve, 250));
    await tied(await flavor.open(id, { readonly: true }))!.release();
    expect(await admin.pttl(`${prefix}{${id}}`)).toBeLessThan(250);
    await new Promise((resolve) => setTimeout(resolve, 250));
    await expect(flavor.open(id)).rejects.toBeInstanceOf(SessionNotFoundError);
  });

  it('maxAge: a session not saved for longer is missing, and removed', async () => {
    const flavor = flavorOn(client());
    const id = await created(flavor);
    await new Promise((resolve) => setTimeout(resolve, 30));
    await expect(flavor.open(id, { maxAge: 10 })).rejects.toBeInstanceOf(SessionNotFoundError);
    expect(await admin.exists(`${prefix}{${id}}`)).toBe(0);
    expect(await admin.exists(lockKeyOf(id))).toBe(0);
  });
});

describe('fusing', () => {
  it('fuses only with a redisLocker on the same client or url', () => {
    const on = client();
    const store = redisStore({ client: on, prefix });
    expect(store.fuse!(redisLocker({ client: on, prefix }))).toBeDefined();
    expect(store.fuse!(redisLocker({ client: client(), prefix }))).toBeUndefined();
    expect(store.fuse!(memoryLocker())).toBeUndefined();
    const byUrl = redisStore({ url: REDIS_URL, prefix });
    const locker = redisLocker({ url: REDIS_URL, prefix });
    expect(byUrl.fuse!(locker)).toBeDefined();
    return Promise.all([byUrl.close!(), locker.close!()]);
  });

  it('a session too large for maxPayloadBytes: SessionTooLargeError, the lock released, the stored version whole', async () => {
    const flavor = flavorOn(client(), { maxPayloadBytes: 1000 });
    const id = await created(flavor, 1);
    const session = await flavor.open<Counter & { blob?: string }>(id);
    session.blob = 'x'.repeat(2000);
    await expect(tied(session)!.release()).rejects.toBeInstanceOf(SessionTooLargeError);
    const again = await flavor.open<Counter>(id, { lockTimeout: 100 });
    expect(again.count).toBe(1);
    expect(Object.keys(again)).toEqual(['_session_id', 'count']);
    await tied(again)!.release();
  });

  it('the layout: a hash (d, t, w) at <prefix>{<id>}, the lease at <prefix>lock:{<id>} while held', async () => {
    const flavor = flavorOn(client(), { lease: 5000 });
    const id = await created(flavor, 3);
    const session = await flavor.open<Counter>(id);
    expect(await admin.hkeys(`${prefix}{${id}}`)).toEqual(['d', 't', 'w']);
    expect(await admin.pttl(lockKeyOf(id))).toBeGreaterThan(4000);
    await tied(session)!.release();
    expect(await admin.exists(lockKeyOf(id))).toBe(0);
  });
});

describe('a data key that is not a session hash (a string, a list): SessionCorruptError, and no lease left behind', () => {
  const dataKeyOf = (id: string) => `${prefix}{${id}}`;
  const lockIsFree = async (id: string) => {
    expect(await admin.exists(lockKeyOf(id))).toBe(0);
    await (await redisLocker({ client: admin, prefix }).acquire(id, 'write', { timeout: 100 })).release();
  };

  it('open: the script takes no lease; the error names the key and its type', async () => {
    const flavor = flavorOn(client());
    const id = await created(flavor);
    await admin.set(dataKeyOf(id), 'not a hash');
    const error = await flavor.open(id).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SessionCorruptError);
    expect((error as SessionCorruptError).code).toBe('ERR_SESSION_CORRUPT');
    expect((error as Error).message).toContain(`${dataKeyOf(id)} holds a Redis string`);
    await lockIsFree(id);
    expect(await admin.get(dataKeyOf(id))).toBe('not a hash');
  });

  it('release with a write: the lease is released by the same script, the key untouched', async () => {
    const flavor = flavorOn(client());
    const id = await created(flavor);
    const session = await flavor.open<Counter>(id);
    await admin.del(dataKeyOf(id));
    await admin.rpush(dataKeyOf(id), 'a list');
    session.count = 1;
    await expect(tied(session).release()).rejects.toBeInstanceOf(SessionCorruptError);
    await lockIsFree(id);
    expect(await admin.lrange(dataKeyOf(id), 0, -1)).toEqual(['a list']);
  });

  it('save() keeps the lock (the session still holds it); the release after it frees it', async () => {
    const flavor = flavorOn(client());
    const id = await created(flavor);
    const session = await flavor.open<Counter>(id);
    await admin.del(dataKeyOf(id));
    await admin.set(dataKeyOf(id), 'x');
    session.count = 1;
    await expect(tied(session).save()).rejects.toBeInstanceOf(SessionCorruptError);
    expect(await admin.exists(lockKeyOf(id))).toBe(1);
    await expect(tied(session).release()).rejects.toBeInstanceOf(SessionCorruptError);
    await lockIsFree(id);
  });

  it('a new session under an id whose key holds something else: SessionExistsError, no lease', async () => {
    const flavor = flavorOn(client());
    const id = 'taken_by_a_string_abc';
    await admin.set(dataKeyOf(id), 'x');
    await expect(flavor.open(undefined, { id })).rejects.toBeInstanceOf(SessionExistsError);
    await lockIsFree(id);
  });

  it('the store alone: materialize and update refuse it, list and purge pass it by', async () => {
    const store = redisStore({ client: client(), prefix });
    const id = 'a-string-not-a-session';
    await admin.set(dataKeyOf(id), 'x');
    await expect(store.materialize(id)).rejects.toBeInstanceOf(SessionCorruptError);
    await expect(store.update(id, 'data')).rejects.toBeInstanceOf(SessionCorruptError);
    await expect(store.insert(id, 'data')).rejects.toBeInstanceOf(SessionExistsError);
    const listed: string[] = [];
    for await (const info of store.list!()) listed.push(info.id);
    expect(listed).not.toContain(id);
    await store.purge!({ olderThan: -60_000 });
    expect(await admin.get(dataKeyOf(id))).toBe('x');
  });
});

describe('a new session under an id whose lock someone holds', () => {
  it('waits for the lock, then inserts (the holder may be creating it)', async () => {
    const flavor = flavorOn(client());
    const id = 'held_while_absent_abc';
    await admin.set(lockKeyOf(id), 'another holder', 'PX', 200);
    const session = await flavor.open<Counter>(undefined, { id, lockTimeout: 3000 });
    expect(tied(session).isStored).toBe(true);
    session.count = 1;
    await tied(session).release();
    expect(await countOf(id)).toBe(1);
  });
});
