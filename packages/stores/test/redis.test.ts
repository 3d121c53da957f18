import { afterAll, describe, expect, test } from '@jest/globals';
import { storeSuite } from '@tied/conformance';
import { redisStore } from '@tied/stores/redis';
import { freshPrefix, redisClient, redisUnavailable, removeKeys } from './fixtures/redis-kit.js';

const skip = await redisUnavailable();
const client = redisClient();
const prefixes: string[] = [];
const prefix = (name: string) => {
  const p = freshPrefix(name);
  prefixes.push(p);
  return p;
};

afterAll(async () => {
  if (!skip) for (const p of prefixes) await removeKeys(client, p);
  client.disconnect();
});

// Payloads above 2 MiB are refused, so the suite's too-large test runs without a 512 MiB string.
storeSuite({ name: 'redisStore', skip, factory: () => redisStore({ client, prefix: prefix('conf'), maxPayloadBytes: 2 * 1024 * 1024 }) });
storeSuite({ name: 'redisStore (url, ttl)', skip, factory: () => redisStore({ url: 'redis://127.0.0.1:6379', prefix: prefix('conf-url'), ttl: 60_000, maxPayloadBytes: 2 * 1024 * 1024 }) });
