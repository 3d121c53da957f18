import { performance } from 'node:perf_hooks';
import { setImmediate as yieldToEventLoop, setTimeout as sleep } from 'node:timers/promises';
import { cycleSession } from './workload.mjs';

/** Runs `work(k)` for k in 0..n-1, `width` at a time. */
async function inParallel(n, width, work) {
  const results = new Array(n);
  let next = 0;
  const lane = async () => {
    while (next < n) {
      const k = next++;
      results[k] = await work(k);
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, n) }, lane));
  return results;
}

/** The p-th percentile (0–100) of an ascending list, nearest rank. */
export function percentile(sorted, p) {
  if (sorted.length === 0) return undefined;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/**
 * The concurrency workload in one process: `workers` async loops, each cycling a random session
 * out of `sessions` (open, count++, `appMs` of app work, release), for `warmupMs` unmeasured then
 * `measureMs` measured. Throughput and latencies count the cycles that ended in the measured
 * window. Every acknowledged cycle (one that resolved) is tallied per session; afterwards the
 * stored counts are read back, and lost updates = acknowledged − stored.
 *
 * A run in which no cycle ends (resolved or failed) for `stallMs` is a stall: it is reported at
 * once, with what it had measured, and the stored counts are not read (they may be locked for good).
 */
export async function measureConcurrency(target, { workers, appMs, sessions, warmupMs, measureMs, stallMs }) {
  await target.reset();
  const ids = await inParallel(sessions, 16, () => target.seed(cycleSession()));
  const acknowledged = new Array(sessions).fill(0);
  const latencies = [];
  let measuring = false;
  let stopping = false;
  let errors = 0;
  let firstError;
  let lastProgress = performance.now();
  let cycleNumber = 0;
  // An in-memory cycle may resolve in microtasks alone, which would starve the timers (the
  // measuring window, the stall watchdog): every worker lets the event loop turn every 5 ms.
  let lastTurn = performance.now();

  async function worker() {
    while (!stopping) {
      const k = Math.floor(Math.random() * sessions);
      const start = performance.now();
      try {
        await target.cycle(ids[k], cycleNumber++, appMs);
        acknowledged[k]++;
        const end = performance.now();
        if (measuring) latencies.push(end - start);
      } catch (error) {
        errors++;
        firstError ??= error;
      }
      lastProgress = performance.now();
      if (lastProgress - lastTurn > 5) {
        await yieldToEventLoop();
        lastTurn = performance.now();
      }
    }
  }

  let stallTimer;
  const stall = new Promise((resolve) => {
    stallTimer = setInterval(() => {
      const idle = performance.now() - lastProgress;
      if (idle > stallMs) resolve(idle);
    }, Math.min(250, stallMs / 4));
  });
  /** undefined when `promise` settles first, the idle ms when the run stalls first. */
  const untilStall = (promise) => Promise.race([promise.then(() => undefined), stall]);

  const running = Promise.all(Array.from({ length: workers }, worker));
  let idleMs = await untilStall(sleep(warmupMs));
  let measuredMs = 0;
  let cpu = { user: 0, system: 0 };
  if (idleMs === undefined) {
    measuring = true;
    const start = performance.now();
    const cpuBefore = process.cpuUsage();
    idleMs = await untilStall(sleep(measureMs));
    cpu = process.cpuUsage(cpuBefore);
    measuredMs = performance.now() - start;
    measuring = false;
  }
  stopping = true;
  if (idleMs === undefined) idleMs = await untilStall(running);
  clearInterval(stallTimer);

  latencies.sort((a, b) => a - b);
  const result = {
    workers,
    appMs,
    sessions,
    cycles: latencies.length,
    ms: measuredMs,
    cyclesPerSecond: measuredMs > 0 ? (latencies.length / measuredMs) * 1000 : 0,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    cpuUsPerCycle: latencies.length > 0 ? (cpu.user + cpu.system) / latencies.length : undefined,
    errors,
    firstError: firstError === undefined ? undefined : String(firstError?.message ?? firstError).split('\n')[0],
    stalled: idleMs !== undefined,
  };
  if (result.stalled) return { ...result, stallMs: Math.round(idleMs) };
  const stored = await inParallel(sessions, 16, (k) => target.count(ids[k]));
  const acknowledgedTotal = acknowledged.reduce((a, b) => a + b, 0);
  const storedTotal = stored.reduce((a, b) => a + b, 0);
  return { ...result, acknowledged: acknowledgedTotal, stored: storedTotal, lost: acknowledgedTotal - storedTotal };
}
