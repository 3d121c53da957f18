import type { OpenOptions } from '@tied/core';
import type { RedisClient } from '@tied/stores/redis';
import { withDriver } from './driver.js';
import { configuredFlexFlavor } from './flex.js';
import { registerPart } from './registry.js';

/** What `RedisSession.open` takes: the connection and the Redis parts' options, and open options. */
export interface RedisSessionArgs extends OpenOptions {
  /** An ioredis client you already have (tied never closes it); or `url`. */
  client?: RedisClient;
  /** tied connects to this url itself; `RedisSession.close({ url })` quits. */
  url?: string;
  /** Before every key: `<prefix>{<id>}` and `<prefix>lock:{<id>}`. Default `tied:`. */
  prefix?: string;
  /** A session expires this many ms after its last write. Default: never. */
  ttl?: number;
  /** How long a dead holder's lock outlives it, in ms. Default 10,000. */
  lease?: number;
}

const REDIS_PARTS = { store: 'Redis', lock: 'Redis', generate: 'Nanoid', serialize: 'SuperJSON' } as const;

/** The Flex arguments as the Redis parts take them. */
function connection(args: Record<string, unknown>) {
  return { client: args.client as RedisClient | undefined, url: args.url as string | undefined, prefix: args.prefix as string | undefined };
}

// The driver is loaded when a Redis part is first made, so tied works without ioredis installed.
registerPart('store', 'Redis', async (args) => {
  const { redisStore } = await withDriver('ioredis', import('@tied/stores/redis'));
  return redisStore({ ...connection(args), ttl: args.ttl as number | undefined });
}, { arguments: ['client', 'url', 'prefix', 'ttl'] });
registerPart('lock', 'Redis', async (args) => {
  const { redisLocker } = await withDriver('ioredis', import('@tied/lockers/redis'));
  return redisLocker({ ...connection(args), lease: args.lease as number | undefined });
}, { arguments: ['client', 'url', 'prefix', 'lease'] });

/**
 * Sessions in Redis, leased locks, nanoid ids, superjson. Every open with the same client (or url)
 * and options shares one set of parts, and a locked cycle costs 2 round trips.
 */
export const RedisSession = configuredFlexFlavor<RedisSessionArgs>(REDIS_PARTS);
