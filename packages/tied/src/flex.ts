import {
  defineSession,
  nullLocker,
  type Flavor,
  type Generator,
  type Locker,
  type OpenOptions,
  type Serializer,
  type Session,
  type SessionData,
  type Store,
} from '@tied/core';
import { hex, nanoid, uuid } from '@tied/generators';
import { base64, json, storable, superjson } from '@tied/serializers';
import { processMemory } from './memory.js';

/** The four roles by their Apache::Session::Flex argument names. */
export interface FlexRoles {
  store: Store;
  lock: Locker;
  generate: Generator;
  serialize: Serializer;
}
export type FlexRole = keyof FlexRoles;

/** Everything `openSession` takes: part names, the parts' own arguments, and open options. */
export interface FlexArgs extends OpenOptions {
  store?: string;
  lock?: string;
  generate?: string;
  serialize?: string;
  [partArgument: string]: unknown;
}

/** Makes a part from the Flex arguments (e.g. `{ pool }`, `{ directory }`). May load a driver lazily. */
export type PartFactory<R extends FlexRole> = (args: Record<string, unknown>) => FlexRoles[R] | Promise<FlexRoles[R]>;

const registry: { [R in FlexRole]: Map<string, PartFactory<R>> } = {
  store: new Map(),
  lock: new Map(),
  generate: new Map(),
  serialize: new Map(),
};

/** Adds a part under a name (case-insensitive) that `openSession(id, { [role]: name })` can use. */
export function registerPart<R extends FlexRole>(role: R, name: string, factory: PartFactory<R>): void {
  if (!(role in registry)) throw new TypeError(`Unknown Flex role "${role}"; expected one of ${Object.keys(registry).join(', ')}`);
  (registry[role] as Map<string, PartFactory<R>>).set(name.toLowerCase(), factory);
}

const OPEN_OPTION_NAMES = new Set(['transaction', 'readonly', 'lockTimeout', 'signal', 'changeDetection', 'maxAge']);
const ROLE_NAMES = new Set<string>(['store', 'lock', 'generate', 'serialize']);

/** Which names `openSession` uses for a role the caller did not name. */
const DEFAULT_NAMES = { generate: 'Nanoid', serialize: 'SuperJSON' } as const;

registerPart('store', 'Memory', () => processMemory.store);
registerPart('lock', 'Memory', () => processMemory.locker);
registerPart('lock', 'Null', () => nullLocker());
registerPart('generate', 'Nanoid', (args) => nanoid({ size: args.size as number | undefined }));
registerPart('generate', 'MD5', (args) => hex({ length: args.length as number | undefined }));
registerPart('generate', 'Hex', (args) => hex({ length: args.length as number | undefined }));
registerPart('generate', 'UUID', () => uuid());
registerPart('serialize', 'SuperJSON', () => superjson());
registerPart('serialize', 'JSON', () => json());
// Apache::Session::Serialize::Storable and ::Base64 (which is base64 of Storable's nfreeze).
registerPart('serialize', 'Storable', () => storable());
registerPart('serialize', 'Base64', () => base64(storable()));

/** Flavors built from arguments are reused: parts hold pools and must not be made per open. */
const flavorCache = new Map<string, Promise<Flavor>>();
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

/** The flavor of `kind` for these part arguments: built once by `build`, then reused. */
export function cachedFlavor(kind: string, partArgs: Record<string, unknown>, build: () => Promise<Flavor>): Promise<Flavor> {
  const key = configurationKey(kind, partArgs);
  let flavor = flavorCache.get(key);
  if (!flavor) {
    flavor = build();
    flavorCache.set(key, flavor);
    flavor.catch(() => flavorCache.delete(key));
  }
  return flavor;
}

async function makePart<R extends FlexRole>(role: R, name: string, args: Record<string, unknown>): Promise<FlexRoles[R]> {
  const factory = registry[role].get(name.toLowerCase()) as PartFactory<R> | undefined;
  if (!factory) {
    const known = [...registry[role].keys()].join(', ');
    throw new TypeError(`No ${role} part named "${name}"; known: ${known} (registerPart adds your own)`);
  }
  return factory(args);
}

/** The flavor that Flex arguments name, built once and then reused. */
export function flexFlavor(names: Record<FlexRole, string>, partArgs: Record<string, unknown>): Promise<Flavor> {
  const kind = [names.store, names.lock, names.generate, names.serialize].join('|').toLowerCase();
  return cachedFlavor(kind, partArgs, async () => defineSession({
    store: await makePart('store', names.store, partArgs),
    locker: await makePart('lock', names.lock, partArgs),
    generator: await makePart('generate', names.generate, partArgs),
    serializer: await makePart('serialize', names.serialize, partArgs),
  }));
}

/** A flavor whose parts come from each open's arguments (a pool, a url, a table, a directory). */
export interface ConfiguredFlavor<A extends OpenOptions> {
  /** Opens the session `id`, or a new one when `id` is undefined. */
  open<T extends object = SessionData>(id?: string, args?: A): Promise<Session<T>>;
  /** The flavor `open` uses for these arguments: its parts, or `close()` for a pool tied made itself. */
  flavor(args?: A): Promise<Flavor>;
}

/** `open(id, args)` and `flavor(args)` over `flavorOf`, which gets the arguments that are not open options. */
export function configuredFlavor<A extends OpenOptions>(flavorOf: (partArgs: Record<string, unknown>) => Promise<Flavor>): ConfiguredFlavor<A> {
  return {
    async open<T extends object = SessionData>(id?: string, args?: A): Promise<Session<T>> {
      const { partArgs, options } = splitFlexArgs({ ...args } as FlexArgs);
      return (await flavorOf(partArgs)).open<T>(id as string, options);
    },
    flavor: (args) => flavorOf(splitFlexArgs({ ...args } as FlexArgs).partArgs),
  };
}

/** Loads a module that needs an optional driver (mysql2, pg, ioredis); a missing one is named. */
export async function withDriver<T>(driver: string, importing: Promise<T>): Promise<T> {
  try {
    return await importing;
  } catch (error) {
    if ((error as { code?: string }).code === 'ERR_MODULE_NOT_FOUND' && (error as Error).message.includes(`'${driver}'`)) {
      throw new Error(`This part of tied needs the ${driver} package: npm install ${driver}`, { cause: error });
    }
    throw error;
  }
}

/**
 * Apache::Session's own argument names, accepted beside ours so a Perl configuration carries over.
 * Perl passes a database handle for the store and another for the lock; tied's store and locker
 * share one pool, so `Handle` and `LockHandle` both mean `pool` (and must then be the same pool).
 */
const PERL_ARGUMENT_NAMES: Readonly<Record<string, string>> = {
  Store: 'store', Lock: 'lock', Generate: 'generate', Serialize: 'serialize',
  Directory: 'directory', LockDirectory: 'lockDirectory', TableName: 'table', IDLength: 'length',
  Transaction: 'transaction', Handle: 'pool', LockHandle: 'pool',
};

/** Our name for an argument, and its value (Perl's `Transaction => 1` is a boolean). */
function ourArgument(key: string, value: unknown): [string, unknown] {
  const name = PERL_ARGUMENT_NAMES[key];
  if (name === undefined) return [key, value];
  return [name, name === 'transaction' ? Boolean(value) : value];
}

/** Splits Flex arguments into part names, the parts' own arguments, and open options. */
export function splitFlexArgs(args: FlexArgs): { names: Partial<Record<FlexRole, string>>; partArgs: Record<string, unknown>; options: OpenOptions } {
  const names: Partial<Record<FlexRole, string>> = {};
  const partArgs: Record<string, unknown> = {};
  const options: Record<string, unknown> = {};
  const givenAs = new Map<string, string>();
  for (const [givenKey, givenValue] of Object.entries(args)) {
    if (givenValue === undefined) continue;
    const [key, ourValue] = ourArgument(givenKey, givenValue);
    const isRole = ROLE_NAMES.has(key);
    const value = isRole ? String(ourValue) : ourValue;
    const target: Record<string, unknown> = isRole ? names : OPEN_OPTION_NAMES.has(key) ? options : partArgs;
    // Perl's name and ours for one argument (Directory and directory) must not disagree.
    const earlier = givenAs.get(key);
    if (earlier !== undefined && (isRole ? String(target[key]).toLowerCase() !== String(value).toLowerCase() : target[key] !== value)) {
      throw new TypeError(`Flex arguments ${earlier} and ${givenKey} both set ${key}, to different values`);
    }
    givenAs.set(key, givenKey);
    target[key] = value;
  }
  return { names, partArgs, options: options as OpenOptions };
}

/**
 * Names for the roles a caller left out: the store's namesake locker (File store → File lock), the
 * nanoid generator and the superjson serializer.
 */
export function completeNames(names: Partial<Record<FlexRole, string>>, defaultStore: string): Record<FlexRole, string> {
  const store = names.store ?? defaultStore;
  return {
    store,
    lock: names.lock ?? store,
    generate: names.generate ?? DEFAULT_NAMES.generate,
    serialize: names.serialize ?? DEFAULT_NAMES.serialize,
  };
}
