import { afterAll, expect } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster, Redis } from 'ioredis';
import { lockerSuite, serviceUnavailable, storeSuite, testOrSkip } from '@tied/conformance/jest';
import { redisLocker } from '@tied/lockers/redis';
import { redisStore } from '@tied/stores/redis';

// A one-node Redis Cluster of this file's own (redis-server from PATH): cluster mode refuses a
// script whose keys are in different hash slots, so the fused scripts prove the key layout.

const directory = mkdtempSync(join(tmpdir(), 'tied-redis-cluster-'));
let server: ChildProcess | undefined;

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

async function until(what: string, check: () => Promise<boolean>): Promise<void> {
  for (let tries = 0; tries < 100; tries++) {
    if (await check().catch(() => false)) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${what} did not happen within 5 s`);
}

async function startCluster(): Promise<number> {
  const [port, busPort] = [await freePort(), await freePort()];
  server = spawn('redis-server', [
    '--port', String(port), '--bind', '127.0.0.1', '--cluster-enabled', 'yes', '--cluster-port', String(busPort),
    '--cluster-announce-ip', '127.0.0.1', '--cluster-config-file', join(directory, 'nodes.conf'),
    '--dir', directory, '--save', '', '--appendonly', 'no',
  ], { stdio: 'ignore' });
  const spawnFailed = new Promise<never>((_, reject) => server!.once('error', reject));
  const node = new Redis({ port, lazyConnect: true, retryStrategy: () => null });
  try {
    await Promise.race([spawnFailed, until('redis-server start', async () => {
      if (node.status === 'end' || node.status === 'wait') await node.connect();
      return (await node.ping()) === 'PONG';
    })]);
    await node.call('CLUSTER', 'ADDSLOTSRANGE', '0', '16383');
    await until('cluster_state:ok', async () => String(await node.call('CLUSTER', 'INFO')).includes('cluster_state:ok'));
  } finally {
    node.disconnect();
  }
  return port;
}

let port = 0;
const skip = await serviceUnavailable('a one-node Redis Cluster (redis-server on PATH)', async () => { port = await startCluster(); });
const cluster = new Cluster([{ host: '127.0.0.1', port }], { lazyConnect: true });

afterAll(async () => {
  if (!skip) await cluster.quit();
  server?.kill();
  rmSync(directory, { recursive: true, force: true });
});

storeSuite({ name: 'redisStore on a Redis Cluster', skip, factory: () => redisStore({ client: cluster, prefix: 'tied-cluster-store:', maxPayloadBytes: 2 * 1024 * 1024 }) });
lockerSuite({
  name: 'redisLocker on a Redis Cluster, fused with redisStore',
  skip,
  factory: () => redisLocker({ client: cluster, prefix: 'tied-cluster-lock:' }),
  store: () => redisStore({ client: cluster, prefix: 'tied-cluster-data:' }),
});

testOrSkip(skip)('the server refuses keys of two slots in one script', async () => {
  await expect(cluster.call('EVAL', 'return 1', '2', 'tied:{a}', 'tied:lock:{b}')).rejects.toThrow(/CROSSSLOT/);
});
