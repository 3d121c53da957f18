import { randomBytes } from 'node:crypto';

/** How many existing sessions the cycle workload goes round. */
export const SESSION_COUNT = 100;

/** The session every target holds: what a logged-in user's session typically carries. */
export function cycleSession() {
  return { user: { name: 'Ann', roles: ['a', 'b', 'c'], prefs: { theme: 'dark', lang: 'en' } }, count: 0 };
}

/** An id for targets that let the caller choose it (floors, peers): 32 hex characters. */
export function randomId() {
  return randomBytes(16).toString('hex');
}

/** The work of one cycle, on whatever object the target hands out. */
export function applyCycle(session, i) {
  session.count++;
  session.last = i;
}

/**
 * Seeds the sessions, warms up, then times `cycles` sequential cycles, cycle i on ids[i % 100].
 * Afterwards it checks that every increment was stored, so a target that silently drops writes
 * cannot post a good figure.
 */
export async function measureCycles(target, { cycles, warmup }) {
  await target.reset();
  const ids = [];
  for (let k = 0; k < SESSION_COUNT; k++) ids.push(await target.seed(cycleSession()));
  for (let i = 0; i < warmup; i++) await target.cycle(ids[i % SESSION_COUNT], i);
  const cpuBefore = process.cpuUsage();
  const start = process.hrtime.bigint();
  for (let i = 0; i < cycles; i++) await target.cycle(ids[i % SESSION_COUNT], i);
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  const cpu = process.cpuUsage(cpuBefore);
  let stored = 0;
  for (const id of ids) stored += await target.count(id);
  if (stored !== warmup + cycles) {
    throw new Error(`the sessions hold ${stored} increments in total, expected ${warmup + cycles}`);
  }
  // The client's own CPU (user + system) per cycle: the part of a cycle that is not waiting.
  return { cycles, ms, cyclesPerSecond: (cycles / ms) * 1000, cpuUsPerCycle: (cpu.user + cpu.system) / cycles };
}

/** One worker of the lost-update test: `increments` cycles on one session. */
export async function increment(target, id, increments) {
  for (let i = 0; i < increments; i++) await target.cycle(id, i);
}
