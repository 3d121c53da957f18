import { runTask } from './spawn.mjs';

export const WORKERS = 4;

/**
 * `WORKERS` processes each open the same session `increments` times, doing count++ and release.
 * With locking the final count is WORKERS × increments; each update lost lowers it. Targets that
 * live in one process's memory run their workers as concurrent async loops in one process.
 * Returns { final, expected, lost } or { unavailable } / { error }.
 */
export async function lostUpdates(target, increments, options) {
  const expected = WORKERS * increments;
  const outcome = (final) => ({ result: { final, expected, lost: expected - final } });
  if (target.inProcess) {
    const answer = await runTask(target, { op: 'concurrent', workers: WORKERS, increments }, options);
    return answer.result ? outcome(answer.result.count) : answer;
  }
  const seeded = await runTask(target, { op: 'seed' }, options);
  if (!seeded.result) return seeded;
  const { id } = seeded.result;
  const workers = await Promise.all(Array.from({ length: WORKERS }, () => runTask(target, { op: 'increment', id, increments }, options)));
  const failed = workers.find((answer) => !answer.result);
  if (failed) return failed;
  const counted = await runTask(target, { op: 'count', id }, options);
  return counted.result ? outcome(counted.result.count) : counted;
}
