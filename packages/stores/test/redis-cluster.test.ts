import { afterAll, describe, expect } from '@jest/globals';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { Cluster, type ClusterOptions } from 'ioredis';
import { lockerSuite, serviceUnavailable, storeSuite, testOrSkip } from '@tied/conformance/jest';
import { redisLocker } from '@tied/lockers/redis';
import { superjson } from '@tied/serializers';
import { redisStore } from '@tied/stores/redis';
import { RedisSession, tied } from 'tied';
import { RedisServers, ask, until } from './fixtures/redis-servers.js';

// A Redis Cluster of this file's own: 6 redis-servers (3 masters, 3 replicas) on spare loopback
// ports, made a cluster by redis-cli. Cluster mode refuses a script whose keys are in different
// hash slots, so every fused script proves the key layout; the last test fails a master over while
// 4 processes increment one session.

const servers = new RedisServers();
let ports: number[] = [];
const skip = await serviceUnavailable('a local Redis Cluster (redis-server and redis-cli on PATH)', async () => {
  try {
    ports = await servers.startCluster(2000);
  } catch (error) {
    await servers.stop();
    throw error;
  }
});
const it = testOrSkip(skip);
const clients: Cluster[] = [];

/** A Cluster client of the test's own; its errors are counted, never thrown (they surface through commands). */
function clusterClient(options: ClusterOptions = {}): Cluster {
  const made = new Cluster(ports.map((port) => ({ host: '127.0.0.1', port })), { lazyConnect: true, ...options });
  made.on('error', () => {});
  clients.push(made);
  return made;
}

const client = clusterClient();
const autopipelining = clusterClient({ enableAutoPipelining: true });

afterAll(async () => {
  for (const made of clients) made.disconnect();
  await servers.stop();
});

storeSuite({ name: 'redisStore on a Redis Cluster', skip, factory: () => redisStore({ client, prefix: 'tied-cluster-store:', maxPayloadBytes: 2 * 1024 * 1024 }) });
lockerSuite({
  name: 'redisLocker on a Redis Cluster, fused with redisStore',
  skip,
  factory: () => redisLocker({ client, prefix: 'tied-cluster-fused:' }),
  store: () => redisStore({ client, prefix: 'tied-cluster-fused:' }),
});
lockerSuite({
  name: 'redisLocker on an autopipelining Redis Cluster client, fused with redisStore',
  skip,
  factory: () => redisLocker({ client: autopipelining, prefix: 'tied-cluster-autopipe:' }),
  store: () => redisStore({ client: autopipelining, prefix: 'tied-cluster-autopipe:' }),
});

describe('RedisSession on a Redis Cluster', () => {
  it('the server refuses keys of two slots in one script (so the fused scripts prove the layout)', async () => {
    await expect(client.call('EVAL', 'return 1', '2', 'tied:{a}', 'tied:lock:{b}')).rejects.toThrow(/CROSSSLOT/);
  });

  it('open, write, reopen readonly, delete', async () => {
    const session = await RedisSession.open<{ tags: Set<string> }>(undefined, { client, prefix: 'tied-cluster-session:' });
    session.tags = new Set(['a']);
    await tied(session).release();
    const again = await RedisSession.open<{ tags: Set<string> }>(tied(session).id, { client, prefix: 'tied-cluster-session:', readonly: true });
    expect(again.tags).toEqual(new Set(['a']));
    await tied(again).release();
    const doomed = await RedisSession.open(tied(session).id, { client, prefix: 'tied-cluster-session:' });
    await tied(doomed).delete();
    await expect(RedisSession.open(tied(session).id, { client, prefix: 'tied-cluster-session:' })).rejects.toMatchObject({ code: 'ERR_SESSION_NOT_FOUND' });
  });

  it('replicas: 1 confirms every write on the replica (WAIT); 2, more than a master has, is BackendError and frees the lock', async () => {
    const confirmed = await RedisSession.open<{ n: number }>(undefined, { client, prefix: 'tied-cluster-replicas:', replicas: 1 });
    confirmed.n = 1;
    await tied(confirmed).release();
    const id = tied(confirmed).id;
    const again = await RedisSession.open<{ n: number }>(id, { client, prefix: 'tied-cluster-replicas:', replicas: 2, replicaTimeout: 100 });
    again.n = 2;
    await expect(tied(again).release()).rejects.toThrow(/only 1 of the 2 replicas asked for confirmed it within 100 ms/);
    expect(await client.exists(`tied-cluster-replicas:lock:{${id}}`)).toBe(0);
  });

  it('list and purge see the sessions of every master', async () => {
    const store = redisStore({ client, prefix: 'tied-cluster-list:' });
    const ids = Array.from({ length: 30 }, (_, n) => `id-${n}`);
    for (const id of ids) await store.insert(id, 'x');
    const listed: string[] = [];
    for await (const info of store.list!()) listed.push(info.id);
    expect(listed.sort()).toEqual([...ids].sort());
    expect(await store.purge!({ olderThan: -60_000 })).toBe(30);
  });
});

describe('a master failover while 4 processes × 250 increment one session', () => {
  it('with replicas: 1, only typed errors, no acknowledged increment lost, none counted twice beyond the uncertain ones', async () => {
    const prefix = 'tied-cluster-failover:';
    const lease = 1500;
    const created = await RedisSession.open<{ count: number }>(undefined, { client, prefix, replicas: 1 });
    created.count = 0;
    await tied(created).release();
    const id = tied(created).id;

    // The master holding the session's keys, and its data on the replica before anything starts.
    const slot = Number(await client.call('CLUSTER', 'KEYSLOT', `${prefix}{${id}}`));
    const owners = (await client.call('CLUSTER', 'SLOTS')) as [number, number, [string, number, string]][];
    const [, , [, master]] = owners.find(([from, to]) => from <= slot && slot <= to)!;
    const replica = Number(/slave0:ip=[^,]+,port=(\d+)/.exec(await ask(master, 'INFO', 'replication'))![1]);

    const fixture = fileURLToPath(new URL('./fixtures/redis-cluster-increment.mjs', import.meta.url));
    let progress = 0;
    const outputs: string[] = [];
    const children = Array.from({ length: 4 }, (_, n) => {
      const child = spawn(process.execPath, [fixture, ports.join(','), prefix, id, '250', String(lease), '1'], { stdio: ['ignore', 'pipe', 'inherit'] });
      outputs[n] = '';
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        outputs[n] += chunk;
        progress += (chunk.match(/\+/g) ?? []).length * 10;
      });
      return child;
    });
    const exits = children.map(async (child) => (await once(child, 'exit'))[0] as number);
    try {
      await until('300 increments acknowledged', async () => progress >= 300, 30_000);
      await servers.kill(master);
      // Its replica takes over; with no replica left, writes to its slots cannot be confirmed
      // (BackendError, retried) until the killed node, restarted, rejoins as the new master's replica.
      await until(`replica ${replica} promoted`, async () => /^master/.test(await ask(replica, 'ROLE')), 20_000);
      await servers.restart(master);
      const codes = await Promise.race([
        Promise.all(exits),
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error('the incrementing processes did not finish within 45 s')), 45_000).unref()),
      ]);
      expect(codes).toEqual([0, 0, 0, 0]);
    } finally {
      for (const child of children) child.kill('SIGKILL');
    }

    const summaries = outputs.map((output) => JSON.parse(output.trim().split('\n').pop()!) as { acknowledged: number; uncertain: number; errors: Record<string, { count: number; first: string }> });
    const acknowledged = summaries.reduce((sum, s) => sum + s.acknowledged, 0);
    const uncertain = summaries.reduce((sum, s) => sum + s.uncertain, 0);
    expect(acknowledged).toBe(1000);

    // The killed master's replica took over its slots.
    expect(await ask(replica, 'ROLE')).toMatch(/^master/);
    expect(await ask(replica, 'CLUSTER', 'INFO')).toContain('cluster_state:ok');
    const stored = await client.hgetBuffer(`${prefix}{${id}}`, 'd');
    const final = superjson().unserialize(stored!).count as number;
    const lost = acknowledged - final;
    console.log(`failover of master ${master} to ${replica}: final count ${final}, acknowledged ${acknowledged}, uncertain ${uncertain}, lost ${Math.max(0, lost)}`, summaries.map((s) => s.errors));
    expect(lost).toBeLessThanOrEqual(0);
    expect(final).toBeLessThanOrEqual(acknowledged + uncertain);
  }, 90_000);
});
