import type { Payload, Store, StoredSession } from './roles.js';
import { SessionExistsError, SessionNotFoundError } from './errors.js';

interface Entry { data: Payload; updatedAt: number }

/** `purge` reports its progress after this many sessions. */
const PROGRESS_EVERY = 1000;

/**
 * Keeps serialized sessions in this process's memory. It stores bytes, not objects, so a session
 * behaves as with a persistent store: what you read back is a fresh copy of what was saved.
 */
export function memoryStore(): Store {
  const entries = new Map<string, Entry>();
  // Copies, so neither the caller nor a later reader can change what is stored.
  const copy = (data: Payload): Payload => (typeof data === 'string' ? data : Uint8Array.from(data));
  return {
    name: 'memory',
    capabilities: { binary: true, text: true, updatedAt: true, persistent: false, list: true, purge: true },
    async insert(id, data) {
      if (entries.has(id)) throw new SessionExistsError(id);
      entries.set(id, { data: copy(data), updatedAt: Date.now() });
    },
    async update(id, data) {
      if (!entries.has(id)) throw new SessionNotFoundError(id);
      entries.set(id, { data: copy(data), updatedAt: Date.now() });
    },
    async materialize(id): Promise<StoredSession> {
      const entry = entries.get(id);
      if (!entry) throw new SessionNotFoundError(id);
      return { data: copy(entry.data), updatedAt: entry.updatedAt };
    },
    async remove(id) {
      entries.delete(id);
    },
    async *list() {
      for (const [id, entry] of entries) {
        yield { id, updatedAt: entry.updatedAt, size: typeof entry.data === 'string' ? Buffer.byteLength(entry.data) : entry.data.byteLength };
      }
    },
    async purge({ olderThan, onProgress }) {
      const cutoff = Date.now() - olderThan;
      let removed = 0;
      let examined = 0;
      for (const [id, entry] of entries) {
        if (entry.updatedAt < cutoff) {
          entries.delete(id);
          removed++;
        }
        if (++examined % PROGRESS_EVERY === 0) onProgress?.({ removed, examined });
      }
      onProgress?.({ removed, examined });
      return removed;
    },
  };
}
