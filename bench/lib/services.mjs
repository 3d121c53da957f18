/** The loopback servers every database target uses. */
export const MYSQL = { host: '127.0.0.1', port: 3306, user: 'root', password: '', database: 'test' };
export const POSTGRES = { host: '127.0.0.1', port: 5432, user: 'postgres', database: 'test' };
export const REDIS = { host: '127.0.0.1', port: 6379 };
export const REDIS_URL = `redis://${REDIS.host}:${REDIS.port}`;
