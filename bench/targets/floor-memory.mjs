import { randomId } from '../lib/workload.mjs';

/**
 * The memory floor: JSON text in a Map, behind a per-id promise-chain mutex. What the memory
 * flavor does, minus the Proxy, the generator and superjson.
 */
export async function open() {
  const sessions = new Map();
  const tails = new Map();

  async function withLock(id, work) {
    const previous = tails.get(id) ?? Promise.resolve();
    let unlock;
    const mine = new Promise((resolve) => { unlock = resolve; });
    const tail = previous.then(() => mine);
    tails.set(id, tail);
    await previous;
    try {
      return await work();
    } finally {
      unlock();
      if (tails.get(id) === tail) tails.delete(id);
    }
  }

  return {
    async reset() { sessions.clear(); },
    async drop() { sessions.clear(); },
    async seed(data) {
      const id = randomId();
      sessions.set(id, JSON.stringify(data));
      return id;
    },
    cycle: (id, i) => withLock(id, async () => {
      const data = JSON.parse(sessions.get(id));
      data.count++;
      data.last = i;
      sessions.set(id, JSON.stringify(data));
    }),
    async count(id) { return JSON.parse(sessions.get(id)).count; },
    async close() {},
  };
}
