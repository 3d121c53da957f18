import type { Flavor } from '@tied/core';

/**
 * Flavors built from arguments are reused: their parts hold pools and must not be made per open. A
 * flavor leaves the cache when it is closed, so a later open with the same arguments builds a new one.
 */
interface CachedEntry {
  readonly kind: string;
  /** Its key in `cache`. */
  readonly key: string;
  readonly partArgs: Readonly<Record<string, unknown>>;
  readonly flavor: Promise<Flavor>;
  /** Its keys in `byQuickKey`, forgotten with it. */
  readonly quickKeys: string[];
}

const cache = new Map<string, CachedEntry>();
/** The same entries by `quickKey`: what every open looks up, so the sorted JSON key is made once per configuration. */
const byQuickKey = new Map<string, CachedEntry>();
const objectIds = new WeakMap<object, number>();
let nextObjectId = 0;

function objectId(value: object): number {
  let id = objectIds.get(value);
  if (id === undefined) objectIds.set(value, id = nextObjectId++);
  return id;
}

/** Tells configurations apart: values as they are, objects (pools, clients) by identity. */
function configurationKey(kind: string, partArgs: Record<string, unknown>): string {
  const args = Object.keys(partArgs).sort().map((key) => {
    const value = partArgs[key];
    return typeof value === 'object' && value !== null || typeof value === 'function' ? [key, `#object${objectId(value)}`] : [key, value];
  });
  return JSON.stringify([kind, args]);
}

/**
 * A key made without sorting or JSON: the arguments in the order given, each value spelt with its
 * type, objects by identity. It tells configurations apart at least as finely as `configurationKey`,
 * so one quick key never stands for two entries (the same arguments in another order make another
 * quick key for the same entry). Undefined for a value it does not spell (a bigint, a symbol).
 */
function quickKey(kind: string, partArgs: Record<string, unknown>): string | undefined {
  let key = `${kind.length}:${kind}`;
  for (const name of Object.keys(partArgs)) {
    const value = partArgs[name];
    let spelt: string;
    switch (typeof value) {
      case 'string': spelt = `s${value.length}:${value}`; break;
      case 'number': spelt = `n${value}`; break;
      case 'boolean': spelt = value ? 't' : 'f'; break;
      case 'undefined': spelt = 'u'; break;
      case 'object': case 'function': spelt = value === null ? 'z' : `o${objectId(value)}`; break;
      default: return undefined;
    }
    key += `|${name.length}:${name}=${spelt}`;
  }
  return key;
}

function forget(entry: CachedEntry): void {
  if (cache.get(entry.key) === entry) cache.delete(entry.key);
  for (const quick of entry.quickKeys) {
    if (byQuickKey.get(quick) === entry) byQuickKey.delete(quick);
  }
}

/** Builds the flavor of a configuration not seen before and caches it until it is closed or its build fails. */
function remember(kind: string, key: string, partArgs: Record<string, unknown>, build: () => Promise<Flavor>): CachedEntry {
  const building = build();
  const entry: CachedEntry = {
    kind,
    key,
    partArgs: { ...partArgs },
    quickKeys: [],
    flavor: building.then((built): Flavor => ({
      ...built,
      async close() {
        forget(entry);
        await built.close();
      },
    })),
  };
  cache.set(key, entry);
  entry.flavor.catch(() => forget(entry));
  return entry;
}

/**
 * The flavor of `kind` for these part arguments: built once by `build`, then reused until closed.
 * `build` runs only for arguments not seen before, so it is where they are checked: what it throws
 * at once is thrown here, and nothing is cached.
 */
export function cachedFlavor(kind: string, partArgs: Record<string, unknown>, build: () => Promise<Flavor>): Promise<Flavor> {
  const quick = quickKey(kind, partArgs);
  const seen = quick === undefined ? undefined : byQuickKey.get(quick);
  if (seen) return seen.flavor;
  const key = configurationKey(kind, partArgs);
  const entry = cache.get(key) ?? remember(kind, key, partArgs, build);
  if (quick !== undefined) {
    byQuickKey.set(quick, entry);
    entry.quickKeys.push(quick);
  }
  return entry.flavor;
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
