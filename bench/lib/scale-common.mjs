import { performance } from 'node:perf_hooks';
import { percentile } from './concurrency.mjs';
import { cycleSession } from './workload.mjs';

/** Ends a tied session as the application does: save when changed, unlock. */
export const release = (session) => session[Symbol.asyncDispose]();

/** n, p50, p99, max and mean of latencies in ms. */
export function latencyStats(latencies) {
  const sorted = Float64Array.from(latencies).sort();
  const mean = sorted.reduce((sum, value) => sum + value, 0) / (sorted.length || 1);
  return { n: sorted.length, p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted.at(-1), mean };
}

/** Makes a session as an application does — open a new one, fill it, release it — and returns its id. */
export const openedSession = (open) => async () => {
  const session = await open(undefined);
  Object.assign(session, cycleSession());
  const id = session._session_id;
  await release(session);
  return id;
};

/**
 * Writes a session as `openedSession` leaves it — the flavor's serializer's bytes of the same data,
 * through its store's own insert — without the lock's round trips: for the bulk of the sessions.
 */
export const insertedSession = ({ parts: { store, generator, serializer } }) => async () => {
  const id = generator.generate();
  await store.insert(id, serializer.serialize({ _session_id: id, ...cycleSession() }));
  return id;
};

/**
 * Makes `count` sessions with `make` (one of the two above), `width` at a time. Returns their ids
 * when `keepIds`. `onCount(done)` is told every `every` sessions.
 */
export async function createSessions(make, count, { width = 32, keepIds = true, every = 100_000, onCount = () => {} } = {}) {
  const ids = keepIds ? new Array(count) : undefined;
  let next = 0;
  let done = 0;
  const lane = async () => {
    while (next < count) {
      const index = next++;
      const id = await make();
      if (ids) ids[index] = id;
      if (++done % every === 0) onCount(done);
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, count) }, lane));
  return ids;
}

/**
 * Runs `work` while `workers` async loops cycle random sessions of `ids` (open, count++, release) as
 * an application's requests do, and times each cycle. Returns how long `work` took, what it
 * returned, and the cycles' latencies (ms): the requests a purge or a listing would stall.
 */
export async function underLoad(open, ids, work, { workers = 4 } = {}) {
  const latencies = [];
  let errors = 0;
  let firstError;
  let running = true;
  const loop = async () => {
    while (running) {
      const id = ids[Math.floor(Math.random() * ids.length)];
      const start = performance.now();
      try {
        const session = await open(id);
        session.count++;
        await release(session);
        latencies.push(performance.now() - start);
      } catch (error) {
        errors++;
        firstError ??= String(error?.message ?? error).split('\n')[0];
      }
    }
  };
  const loops = Array.from({ length: workers }, loop);
  const start = performance.now();
  let result;
  try {
    result = await work();
  } finally {
    running = false;
    await Promise.all(loops);
  }
  return { ms: performance.now() - start, ...result, stream: { ...latencyStats(latencies), errors, firstError } };
}

/** `flavor.purge` of what was saved before `cutoff`, timed, with its progress reports counted. */
export async function timedPurge(flavor, cutoff, log, label) {
  const progress = progressLog(log, label);
  const start = performance.now();
  const cpuBefore = process.cpuUsage();
  const removed = await flavor.purge({ olderThan: Date.now() - cutoff, onProgress: progress.onProgress });
  const cpu = process.cpuUsage(cpuBefore);
  const purgeMs = performance.now() - start;
  // Per second of this process's CPU (user + system) too: on a loaded machine, what the wall clock hides.
  return { removed, purgeMs, purgePerSecond: (removed / purgeMs) * 1000, purgePerCpuSecond: (removed / (cpu.user + cpu.system)) * 1e6, progressReports: progress.reports };
}

/** The ids `store.list()` yields. */
export async function listedIds(store) {
  const ids = new Set();
  for await (const { id } of store.list()) ids.add(id);
  return ids;
}

/** How many of the live sessions are still there, and how many sessions are left at all. */
export function liveCounts(liveIds, remaining) {
  return { live: liveIds.length, liveKept: liveIds.filter((id) => remaining.has(id)).length, remaining: remaining.size };
}

/** Logs a purge's progress (on stderr, at most every 2 s) and counts its reports. */
function progressLog(log, label) {
  let reports = 0;
  let lastLine = 0;
  return {
    get reports() { return reports; },
    onProgress({ removed, examined }) {
      reports++;
      if (performance.now() - lastLine < 2000) return;
      lastLine = performance.now();
      log(`${label}: ${removed} removed, ${examined} examined`);
    },
  };
}
