import { runTask } from './spawn.mjs';

/**
 * Targets under concurrency: tied ≥ 0.9× the peer's throughput, p99 ≤ 1.2× the peer's, 0 lost, no
 * stall. Issue 13 adds one for Redis at C = 128: ≥ 0.5× connect-redis's throughput per process.
 */
export const CONCURRENCY_TARGETS = { throughput: 0.9, p99: 1.2, redisAt128: 0.5 };

/**
 * The concurrency workload, point by point: for each backend where a tied flavor and its peer are
 * both selected, each worker count × app time runs tied then its peer, each in a fresh process
 * (so the two see the same minute of the machine). Returns rows
 * { backend, workers, appMs, tied: { target, answer }, peer: { target, answer } }.
 */
export async function concurrencyRuns(targets, options, taskOptions, unavailable, progress) {
  const rows = [];
  const backends = [...new Set(targets.filter((t) => t.concurrency).map((t) => t.backend))];
  for (const backend of backends) {
    // A backend may have several tied flavors (MySQL's GET_LOCK and lease locks): each gets a row against the one peer run.
    const tieds = targets.filter((t) => t.concurrency && t.backend === backend && t.kind === 'tied');
    const peer = targets.find((t) => t.concurrency && t.backend === backend && t.kind === 'peer');
    for (const workers of options.concurrency.workers) {
      for (const appMs of options.concurrency.appMs) {
        const sides = new Map();
        for (const target of [...tieds, peer].filter(Boolean)) {
          const answer = unavailable.has(target.id)
            ? { unavailable: unavailable.get(target.id) }
            : await runTask(target, { op: 'concurrency', workers, appMs, ...options.concurrency.sizes }, taskOptions);
          if (answer.unavailable) unavailable.set(target.id, answer.unavailable);
          sides.set(target, { target: target.id, answer });
          const r = answer.result;
          const figure = r
            ? `${Math.round(r.cyclesPerSecond)} cycles/s p99 ${r.p99?.toFixed(1) ?? '—'} ms${r.stalled ? ' STALLED' : ` lost ${r.lost}`}${r.errors ? ` errors ${r.errors}` : ''}`
            : answer.unavailable ? `not available: ${answer.unavailable}` : `error: ${answer.error.split('\n')[0]}`;
          progress(`concurrency  C=${String(workers).padEnd(3)} app ${appMs} ms  ${target.id.padEnd(19)} ${figure}`);
        }
        const peerSide = peer && sides.get(peer);
        if (tieds.length === 0) rows.push({ backend, workers, appMs, peer: peerSide });
        tieds.forEach((target, index) => rows.push({
          backend,
          workers,
          appMs,
          // The flavor, when it is not the backend's first (tied-mysql-lease beside tied-mysql).
          ...(index > 0 ? { variant: target.id, repeatsPeer: true } : {}),
          tied: sides.get(target),
          ...(peerSide ? { peer: peerSide } : {}),
        }));
      }
    }
  }
  return rows;
}

/** MET / MISSED for one row, with the reasons it missed. */
export function concurrencyVerdict(row) {
  const tied = row.tied?.answer?.result;
  const peer = row.peer?.answer?.result;
  if (!tied || !peer) return { status: 'not compared', reasons: [] };
  const reasons = [];
  const throughput = tied.cyclesPerSecond / peer.cyclesPerSecond;
  const p99 = tied.p99 / peer.p99;
  if (tied.stalled) reasons.push(`tied stalled (${Math.round(tied.stallMs / 1000)} s without progress)`);
  if (!(throughput >= CONCURRENCY_TARGETS.throughput)) reasons.push(`throughput ${throughput.toFixed(2)}× < ${CONCURRENCY_TARGETS.throughput}×`);
  if (!(p99 <= CONCURRENCY_TARGETS.p99)) reasons.push(`p99 ${p99.toFixed(2)}× > ${CONCURRENCY_TARGETS.p99}×`);
  if (tied.lost > 0) reasons.push(`${tied.lost} lost updates`);
  if (tied.errors > 0) reasons.push(`${tied.errors} failed cycles (${tied.firstError})`);
  const verdict = { status: reasons.length === 0 ? 'MET' : 'MISSED', throughput, p99, reasons };
  if (row.backend === 'redis' && row.workers === 128) {
    verdict.redisPerProcess = throughput >= CONCURRENCY_TARGETS.redisAt128 ? 'MET' : 'MISSED';
  }
  return verdict;
}
