import { afterAll } from '@jest/globals';
import { lockerSuite } from '@tied/conformance/jest';
import { redisLocker } from '@tied/lockers/redis';
import { redisStore } from '@tied/stores/redis';
import { REDIS_URL, freshPrefix, redisClient, redisUnavailable, removeKeys } from '../../stores/test/fixtures/redis-kit.js';

const skip = await redisUnavailable();
const client = redisClient();
const prefix = freshPrefix('lockers');

afterAll(async () => {
  if (!skip) await removeKeys(client, prefix);
  client.disconnect();
});

lockerSuite({ name: 'redisLocker', skip, factory: () => redisLocker({ client, prefix }) });
lockerSuite({ name: 'redisLocker (url) with redisStore: fused', skip, factory: () => redisLocker({ url: REDIS_URL, prefix }), store: () => redisStore({ url: REDIS_URL, prefix }) });
