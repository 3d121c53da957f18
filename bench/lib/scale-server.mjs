import pg from 'pg';
import { setTimeout as sleep } from 'node:timers/promises';
import { performance } from 'node:perf_hooks';
import { ioredisClient } from './ioredis.mjs';
import { mysqlPool } from './mysql-admin.mjs';
import { deleteRedisPrefix } from './namespaces.mjs';
import { createSessions, insertedSession, listedIds, liveCounts, openedSession, timedPurge, underLoad } from './scale-common.mjs';
import { POSTGRES, REDIS_URL } from './services.mjs';
import { reachable, tiedExport } from './unavailable.mjs';

/** The scale part's own table and key prefix, dropped before and after. */
const NAME = 'tied_scale';
/** How long the request stream runs alone, for a baseline to compare its latencies with. */
const BASELINE_MS = 1000;

/** tied's flavor of `backend`, opened as its users do, on a namespace of the scale part's own. */
const SETUPS = {
  async mysql() {
    const Session = await tiedExport('tied', 'MySQLSession');
    const pool = await mysqlPool();
    const drop = async () => { await pool.query(`DROP TABLE IF EXISTS ${NAME}`); };
    return { Session, args: { pool, table: NAME, createTable: true }, drop, close: () => pool.end() };
  },
  async postgres() {
    const Session = await tiedExport('tied', 'PostgresSession');
    const pool = new pg.Pool(POSTGRES);
    await reachable('PostgreSQL at 127.0.0.1:5432', () => pool.query('SELECT 1'));
    const drop = async () => { await pool.query(`DROP TABLE IF EXISTS ${NAME}`); };
    return { Session, args: { pool, table: NAME, createTable: true }, drop, close: () => pool.end() };
  },
  async redis() {
    const Session = await tiedExport('tied', 'RedisSession');
    const admin = await ioredisClient();
    const args = { url: REDIS_URL, prefix: `${NAME}:` };
    return {
      Session,
      args,
      drop: () => deleteRedisPrefix(admin, args.prefix),
      async close() {
        await Session.close(args);
        await admin.quit();
      },
    };
  },
};

/**
 * `count` expired sessions and `live` newer ones on a server backend; then, while a stream of
 * open/count++/release cycles runs on the live ones, first nothing (the baseline), then `list` of
 * every session, then `purge` of the expired ones — each timed, with the stream's latencies.
 */
export async function serverScale(backend, { count, live }, log) {
  const { Session, args, drop, close } = await SETUPS[backend]();
  try {
    await drop();
    const open = (id, options) => Session.open(id, { ...args, ...options });
    const flavor = await Session.flavor(args);
    const start = performance.now();
    await createSessions(insertedSession(flavor), count, { width: 16, keepIds: false, every: 10_000, onCount: (done) => log(`${backend}: ${done} sessions written`) });
    const createMs = performance.now() - start;
    // SQL servers keep whole seconds, and their purge takes a session for older than the cutoff only
    // when its whole second is (1 s of margin): one second with no session written, the cutoff in it.
    const quietSecond = Math.ceil((Date.now() + 200) / 1000) * 1000;
    const cutoff = quietSecond + 100;
    await sleep(quietSecond + 1000 + 20 - Date.now());
    const liveIds = await createSessions(openedSession(open), live, { width: 16 });

    log(`${backend}: baseline`);
    const baseline = await underLoad(open, liveIds, () => sleep(BASELINE_MS));
    log(`${backend}: list under load`);
    const listing = await underLoad(open, liveIds, async () => {
      let listed = 0;
      for await (const _ of flavor.parts.store.list()) listed++;
      return { listed };
    });
    log(`${backend}: purge under load`);
    const purging = await underLoad(open, liveIds, () => timedPurge(flavor, cutoff, log, `${backend} purge`));
    const kept = await listedIds(flavor.parts.store);
    return { count, createPerSecond: (count / createMs) * 1000, baseline, listing, purging, ...liveCounts(liveIds, kept) };
  } finally {
    await drop().catch(() => {});
    await close();
  }
}
