import { tiedTarget } from '../lib/tied-target.mjs';
import { tiedExport } from '../lib/unavailable.mjs';

/** tied's MemorySession: this process's memory store and in-process locker. */
export async function open() {
  const MemorySession = await tiedExport('tied', 'MemorySession');
  const { store } = MemorySession.parts;
  const clear = async () => {
    for await (const { id } of store.list()) await store.remove(id);
  };
  return tiedTarget({ open: (id, options) => MemorySession.open(id, options), reset: clear, drop: clear });
}
