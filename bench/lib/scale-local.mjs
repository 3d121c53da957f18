import { lstatSync, mkdirSync, unlinkSync, writeFileSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { createSessions, insertedSession, latencyStats, listedIds, liveCounts, openedSession, release, timedPurge } from './scale-common.mjs';

/** File timestamps come from the kernel's coarse clock (a tick of up to 10 ms): expired and live sessions are written this far apart. */
const MTIME_GAP_MS = 50;
/** Files the unlink floor is measured on, and their size (a two-slot file of 512-byte slots). */
const UNLINK_FLOOR_FILES = 50_000;
const SESSION_FILE_BYTES = 1040;
/** Open-latency samples are taken in this many rounds, alternating between the small and the large directory. */
const LATENCY_ROUNDS = 5;

/**
 * `count` sessions of MemorySession — tied's own, in a fresh process — and the heap and external
 * memory they take, after a full GC before and after. Then `live` more, and a purge that must remove
 * exactly the first `count`.
 */
export async function memoryScale({ count, live }, log) {
  const { MemorySession } = await import('tied');
  const make = openedSession((id) => MemorySession.open(id));
  await createSessions(make, 100, { keepIds: false }); // loads and warms up the code before the baseline
  await sleep(MTIME_GAP_MS);
  await MemorySession.purge({ olderThan: 0 });
  const before = footprint();
  const start = performance.now();
  await createSessions(make, count, { keepIds: false, onCount: (done) => log(`memory: ${done} sessions`) });
  const createMs = performance.now() - start;
  const after = footprint();
  const liveIds = await liveAfterCutoff(make, live);
  const purged = await timedPurge(MemorySession, liveIds.cutoff, log, 'memory purge');
  const kept = await listedIds(MemorySession.parts.store);
  return {
    count,
    createPerSecond: (count / createMs) * 1000,
    bytesPerSession: (after.heapUsed + after.external - before.heapUsed - before.external) / count,
    rssPerSession: (after.rss - before.rss) / count,
    heapUsedMB: after.heapUsed / 2 ** 20,
    ...purged,
    ...liveCounts(liveIds.ids, kept),
  };
}

/**
 * The two-slot file store with `count` sessions in one directory against `small` in another:
 * open latency of random sessions in both (interleaved rounds), `list` of the large one, and a
 * purge with progress that must remove exactly the `count` expired sessions and keep `live` newer
 * ones. The flavors have FileSession's parts, each on its own directory under `dir`.
 */
export async function fileScale({ count, small, live, samples }, dir, log) {
  const flavorOf = await fileFlavors();
  const large = flavorOf(join(dir, 'large'));
  const few = flavorOf(join(dir, 'small'));
  await mkdir(dir, { recursive: true });
  try {
    const openLarge = (id, options) => large.open(id, options);
    const openFew = (id, options) => few.open(id, options);
    const fewIds = await createSessions(insertedSession(few), small);
    const start = performance.now();
    const ids = await createSessions(insertedSession(large), count, { onCount: (done) => log(`file: ${done} sessions written`) });
    const createMs = performance.now() - start;
    const liveIds = await liveAfterCutoff(openedSession(openLarge), live);
    const allIds = ids.concat(liveIds.ids);

    log(`file: open latency, ${small} vs ${allIds.length} sessions`);
    const latencies = { small: [], large: [] };
    for (let round = 0; round < LATENCY_ROUNDS; round++) {
      latencies.small.push(...await openLatencies(openFew, fewIds, Math.ceil(samples / LATENCY_ROUNDS)));
      latencies.large.push(...await openLatencies(openLarge, allIds, Math.ceil(samples / LATENCY_ROUNDS)));
    }

    log('file: list');
    const listStart = performance.now();
    let listed = 0;
    for await (const _ of large.parts.store.list()) listed++;
    const listMs = performance.now() - listStart;

    const purged = await timedPurge(large, liveIds.cutoff, log, 'file purge');
    const kept = await listedIds(large.parts.store);
    const floorPerSecond = unlinkFloor(join(dir, 'floor'), Math.min(count, UNLINK_FLOOR_FILES));
    return {
      count,
      small,
      createPerSecond: (count / createMs) * 1000,
      openSmall: latencyStats(latencies.small),
      openLarge: latencyStats(latencies.large),
      listed,
      listMs,
      ...purged,
      floorPerSecond,
      ...liveCounts(liveIds.ids, kept),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * What this machine's file system allows with no lock and no check: files of a session file's size
 * removed by `lstat` + `unlink` alone, per second. Purge takes a lock and checks under it.
 */
function unlinkFloor(dir, count) {
  mkdirSync(dir);
  const bytes = Buffer.alloc(SESSION_FILE_BYTES);
  const paths = Array.from({ length: count }, (_, k) => join(dir, `f${k}`));
  for (const path of paths) writeFileSync(path, bytes);
  const start = performance.now();
  for (const path of paths) {
    lstatSync(path);
    unlinkSync(path);
  }
  return (count / (performance.now() - start)) * 1000;
}

/** FileSession's parts on a directory of one's choosing (FileSession itself reads its directory once, at import). */
async function fileFlavors() {
  const [{ defineSession }, { slotFileParts }, { nanoid }, { superjson }] = await Promise.all([
    import('@tied/core'), import('@tied/stores/file'), import('@tied/generators'), import('@tied/serializers'),
  ]);
  return (directory) => defineSession({ ...slotFileParts({ directory }), generator: nanoid(), serializer: superjson() });
}

/** Latencies (ms) of `open` alone — the session is then released unchanged, so nothing is written. */
async function openLatencies(open, ids, samples) {
  const latencies = [];
  for (let k = 0; k < samples; k++) {
    const id = ids[Math.floor(Math.random() * ids.length)];
    const start = performance.now();
    const session = await open(id);
    latencies.push(performance.now() - start);
    await release(session);
  }
  return latencies;
}

/** The cutoff between the sessions written so far and `live` new ones made by `make` after it. */
async function liveAfterCutoff(make, live) {
  await sleep(MTIME_GAP_MS);
  const cutoff = Date.now();
  await sleep(MTIME_GAP_MS);
  return { cutoff, ids: await createSessions(make, live) };
}

function footprint() {
  globalThis.gc?.();
  globalThis.gc?.();
  return process.memoryUsage();
}
