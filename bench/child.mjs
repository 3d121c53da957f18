// One measurement in a fresh process: `node bench/child.mjs '<task JSON>'`. Prints one JSON line:
// { result } on success, { unavailable } when the target cannot run here, { error } otherwise.
import { measureConcurrency } from './lib/concurrency.mjs';
import { NotAvailable } from './lib/unavailable.mjs';
import { cycleSession, increment, measureCycles } from './lib/workload.mjs';

const task = JSON.parse(process.argv[2]);

async function withTarget(work) {
  const { open } = await import(`./targets/${task.target}.mjs`);
  const target = await open(task.namespace);
  try {
    return await work(target);
  } finally {
    await target.close();
  }
}

const operations = {
  cycle: () => withTarget((target) => measureCycles(target, task)),
  /** Empties the namespace and seeds the one session the lost-update workers share. */
  seed: () => withTarget(async (target) => {
    await target.reset();
    return { id: await target.seed(cycleSession()) };
  }),
  increment: () => withTarget(async (target) => {
    await increment(target, task.id, task.increments);
    return {};
  }),
  count: () => withTarget(async (target) => ({ count: await target.count(task.id) })),
  /** Lost updates for a target that lives in one process's memory: the workers are concurrent async loops. */
  concurrent: () => withTarget(async (target) => {
    await target.reset();
    const id = await target.seed(cycleSession());
    await Promise.all(Array.from({ length: task.workers }, () => increment(target, id, task.increments)));
    return { count: await target.count(id) };
  }),
  /** A stalled run may hold locks and connections for good: it is answered without closing, and the process exits. */
  concurrency: async () => {
    const { open } = await import(`./targets/${task.target}.mjs`);
    const target = await open(task.namespace);
    const result = await measureConcurrency(target, task);
    if (!result.stalled) await target.close();
    return result;
  },
  drop: () => withTarget(async (target) => {
    await target.drop();
    return {};
  }),
  // Imported on demand: tied must not load before a target has set its environment (tied-file).
  micro: async () => (await import('./lib/micro.mjs')).measureMicro(task),
};

try {
  const result = await operations[task.op]();
  process.stdout.write(`${JSON.stringify({ result })}\n`);
} catch (error) {
  if (error instanceof NotAvailable) {
    process.stdout.write(`${JSON.stringify({ unavailable: error.message })}\n`);
  } else {
    process.stdout.write(`${JSON.stringify({ error: error?.stack ?? String(error) })}\n`);
    process.exitCode = 1;
  }
}
// The concurrency workload leaves timers and sockets behind when it stalls or fails.
if (task.op === 'concurrency') process.stdout.write('', () => process.exit());
