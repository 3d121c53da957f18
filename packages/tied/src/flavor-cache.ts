import type { Flavor } from '@tied/core';

/**
 * Flavors built from arguments are reused: their parts hold pools and must not be made per open. A
 * flavor leaves the cache when it is closed, so a later open with the same arguments builds a new one.
 */
interface CachedEntry {
  readonly kind: string;
  readonly partArgs: Readonly<Record<string, unknown>>;
  readonly flavor: Promise<Flavor>;
}

const cache = new Map<string, CachedEntry>();
const objectIds = new WeakMap<object, number>();
let nextObjectId = 0;

/** Tells configurations apart: values as they are, objects (pools, clients) by identity. */
function configurationKey(kind: string, partArgs: Record<string, unknown>): string {
  const args = Object.keys(partArgs).sort().map((key) => {
    const value = partArgs[key];
    if (typeof value === 'object' && value !== null || typeof value === 'function') {
      let objectId = objectIds.get(value);
      if (objectId === undefined) objectIds.set(value, objectId = nextObjectId++);
      return [key, `#object${objectId}`];
    }
    return [key, value];
  });
  return JSON.stringify([kind, args]);
}

/** The flavor of `kind` for these part arguments: built once by `build`, then reused until closed. */
export function cachedFlavor(kind: string, partArgs: Record<string, unknown>, build: () => Promise<Flavor>): Promise<Flavor> {
  const key = configurationKey(kind, partArgs);
  const cached = cache.get(key);
  if (cached) return cached.flavor;
  const flavor = build().then((built): Flavor => ({
    ...built,
    async close() {
      if (cache.get(key)?.flavor === flavor) cache.delete(key);
      await built.close();
    },
  }));
  cache.set(key, { kind, partArgs: { ...partArgs }, flavor });
  flavor.catch(() => { if (cache.get(key)?.flavor === flavor) cache.delete(key); });
  return flavor;
}

/**
 * Closes every cached flavor of `kind` made with these arguments, whatever else it was made with:
 * `{ uri }` alone closes the flavors of every table on that server. Returns how many were closed.
 */
export async function closeCachedFlavors(kind: string, given: Record<string, unknown>): Promise<number> {
  const matching = [...cache.values()].filter((entry) => entry.kind === kind
    && Object.entries(given).every(([key, value]) => value === undefined || entry.partArgs[key] === value));
  const closing = matching.map(async (entry) => (await entry.flavor.catch(() => undefined))?.close());
  await Promise.all(closing);
  return matching.length;
}
