/**
 * The Lua scripts of the Redis backend. Each runs atomically on the server that holds its keys (a
 * session's data key and lock key share a Cluster slot, see keys.ts). Every script that may take or
 * end a lease settles it in the same script, whatever it finds: a data key of another type than a
 * hash is reported (as its type name), never a Redis error halfway through the script, which would
 * leave a lease taken for its full length.
 */
import { createHash } from 'node:crypto';

export interface Script {
  readonly source: string;
  readonly sha: string;
}

function script(source: string): Script {
  return { source, sha: createHash('sha1').update(source).digest('hex') };
}

/**
 * Take the lease `key` for `token` for `lease` ms — SET NX PX, or extend it when this very token holds
 * it already (a command resent by ioredis after a reconnect). True when it is ours.
 */
const TAKE_LEASE = `
local function take_lease(key, token, lease)
  if redis.call('SET', key, token, 'NX', 'PX', lease) then return true end
  if redis.call('GET', key) == token then
    redis.call('PEXPIRE', key, lease)
    return true
  end
  return false
end
`;

/** The type of a key: 'none', 'hash' (a session) or anything else (not a session). */
const KIND = `
local function kind(key) return redis.call('TYPE', key)['ok'] end
`;

/**
 * A session is a hash: `d` the serialized bytes, `t` when it was written (ms), `w` which write that
 * was, so that a write resent by ioredis after a reconnect knows it was applied already.
 */
const WRITE = `
local function write(key, data, now, write_id, ttl)
  redis.call('HSET', key, 'd', data, 't', now, 'w', write_id)
  if ttl == '' then redis.call('PERSIST', key) else redis.call('PEXPIRE', key, ttl) end
end
`;

// ---- The locker's leases.

/** KEYS: lock. ARGV: token, lease. 1 taken, 0 busy. */
export const ACQUIRE = script(`${TAKE_LEASE}
return take_lease(KEYS[1], ARGV[1], ARGV[2]) and 1 or 0`);

/** KEYS: lock. ARGV: token. Compare-and-delete: only the holder's token removes the lease. */
export const RELEASE = script(`if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`);

/** KEYS: lock. ARGV: token, lease. 1 extended, 0 the lease is not this token's any more. */
export const RENEW = script(`if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`);

// ---- The store alone (no lock).

/** KEYS: data. ARGV: data, now, write id, ttl. 1 inserted, 0 the id is taken. */
export const INSERT = script(`${KIND}${WRITE}
local found = kind(KEYS[1])
if found ~= 'none' then
  return (found == 'hash' and redis.call('HGET', KEYS[1], 'w') == ARGV[3]) and 1 or 0
end
write(KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4])
return 1`);

/** KEYS: data. ARGV: data, now, write id, ttl. 1 written, 0 missing, or the key's type when not a session. */
export const UPDATE = script(`${KIND}${WRITE}
local found = kind(KEYS[1])
if found == 'none' then return 0 end
if found ~= 'hash' then return found end
write(KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4])
return 1`);

/** KEYS: data. {data, written at}; nil when missing; or the key's type when it is not a session. */
export const READ = script(`${KIND}
local found = kind(KEYS[1])
if found == 'none' then return nil end
if found ~= 'hash' then return found end
local data = redis.call('HMGET', KEYS[1], 'd', 't')
if not data[1] then return nil end
return data`);

/** KEYS: data. Removes the session (whatever the key holds). */
export const REMOVE = script(`return redis.call('DEL', KEYS[1])`);

/** KEYS: data. ARGV: cutoff (ms). Removes the session when its last write is older: 1, else 0. */
export const PURGE_ONE = script(`${KIND}
if kind(KEYS[1]) ~= 'hash' then return 0 end
local t = tonumber(redis.call('HGET', KEYS[1], 't'))
if t and t < tonumber(ARGV[1]) then return redis.call('DEL', KEYS[1]) end
return 0`);

/** KEYS: data. {written at, size of the data}, or nil when the key is gone or not a session. */
export const DESCRIBE = script(`${KIND}
if kind(KEYS[1]) ~= 'hash' then return nil end
return {redis.call('HGET', KEYS[1], 't'), redis.call('HSTRLEN', KEYS[1], 'd')}`);

// ---- A store fused with a locker (FusedAccess): every write of a locked session fenced by its lease token.

/**
 * KEYS: data, lock. ARGV: token, lease.
 * {0} busy; {1, data, written at} locked and read; {2} missing (no lease left); {3, type} not a session (no lease taken).
 */
export const LOCK_AND_READ = script(`${TAKE_LEASE}${KIND}
local found = kind(KEYS[1])
if found ~= 'hash' and found ~= 'none' then return {3, found} end
if not take_lease(KEYS[2], ARGV[1], ARGV[2]) then return {0} end
if found == 'none' then
  redis.call('DEL', KEYS[2])
  return {2}
end
local data = redis.call('HMGET', KEYS[1], 'd', 't')
if not data[1] then
  redis.call('DEL', KEYS[2])
  return {2}
end
return {1, data[1], data[2]}`);

/**
 * KEYS: data, lock. ARGV: token, lease, data, now, write id, ttl.
 * 1 locked and inserted; 0 the id is taken (no lease taken); 2 busy (someone holds the lock of this absent id).
 */
export const LOCK_AND_INSERT = script(`${TAKE_LEASE}${KIND}${WRITE}
local found = kind(KEYS[1])
if found ~= 'none' then
  if found == 'hash' and redis.call('HGET', KEYS[1], 'w') == ARGV[5] and take_lease(KEYS[2], ARGV[1], ARGV[2]) then return 1 end
  return 0
end
if not take_lease(KEYS[2], ARGV[1], ARGV[2]) then return 2 end
write(KEYS[1], ARGV[3], ARGV[4], ARGV[5], ARGV[6])
return 1`);

/**
 * KEYS: data, lock. ARGV: data, now, write id, ttl, token, '1' to release the lease ('0' to keep it).
 * 1 written; 0 missing; -1 the lease is not this token's (nothing written, the lease untouched); or
 * the key's type when it is not a session (nothing written). When asked to, the lease is released
 * whenever it is this token's, whatever else happens.
 */
export const FENCED_UPDATE = script(`${KIND}${WRITE}
local found = kind(KEYS[1])
if redis.call('GET', KEYS[2]) ~= ARGV[5] then
  if found == 'hash' and redis.call('HGET', KEYS[1], 'w') == ARGV[3] then return 1 end
  return -1
end
if ARGV[6] == '1' then redis.call('DEL', KEYS[2]) end
if found == 'none' then return 0 end
if found ~= 'hash' then return found end
write(KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4])
return 1`);

/**
 * KEYS: data, lock. ARGV: token. Removes the session and releases the lease: 1. -1 the lease is not
 * this token's and the session is still there (nothing removed). Whatever the data key holds, it goes.
 */
export const FENCED_REMOVE = script(`if redis.call('GET', KEYS[2]) ~= ARGV[1] then
  return redis.call('EXISTS', KEYS[1]) == 1 and -1 or 1
end
redis.call('DEL', KEYS[1], KEYS[2])
return 1`);
