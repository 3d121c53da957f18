import {
  OPEN_OPTION_NAMES, checkOpenOptions, defineSession,
  type Flavor, type OpenOptions, type Session, type SessionData,
} from '@tied/core';
import { cachedFlavor, closeCachedFlavors } from './flavor-cache.js';
import { ourName, ourValue } from './perl-arguments.js';
import { checkPartArguments, makePart, type FlexRole } from './registry.js';

/** Everything `openSession` takes: part names, the parts' own arguments, and open options. */
export interface FlexArgs extends OpenOptions {
  store?: string;
  lock?: string;
  generate?: string;
  serialize?: string;
  [partArgument: string]: unknown;
}

const ROLE_NAMES = new Set<string>(['store', 'lock', 'generate', 'serialize']);

/** Which names `openSession` uses for a role the caller did not name. */
const DEFAULT_NAMES = { generate: 'Nanoid', serialize: 'SuperJSON' } as const;

/** Splits Flex arguments into part names, the parts' own arguments, and open options. */
export function splitFlexArgs(args: FlexArgs): { names: Partial<Record<FlexRole, string>>; partArgs: Record<string, unknown>; options: OpenOptions } {
  if (typeof args !== 'object' || args === null) throw new TypeError(`Expected an object of arguments, got ${args === null ? 'null' : typeof args}`);
  const names: Partial<Record<FlexRole, string>> = {};
  const partArgs: Record<string, unknown> = {};
  const options: Record<string, unknown> = {};
  const givenKeys = Object.keys(args);
  for (let index = 0; index < givenKeys.length; index++) {
    const givenKey = givenKeys[index]!;
    const givenValue: unknown = args[givenKey];
    if (givenValue === undefined) continue;
    const key = ourName(givenKey);
    const isRole = ROLE_NAMES.has(key);
    const value = isRole ? String(givenValue) : ourValue(givenKey, givenValue);
    const target: Record<string, unknown> = isRole ? names : OPEN_OPTION_NAMES.has(key) ? options : partArgs;
    // Perl's name and ours for one argument (Directory and directory) must not disagree.
    if (Object.hasOwn(target, key) && (isRole ? String(target[key]).toLowerCase() !== String(value).toLowerCase() : target[key] !== value)) {
      const earlier = givenKeys.slice(0, index).findLast((other) => args[other] !== undefined && ourName(other) === key);
      throw new TypeError(`Flex arguments ${earlier} and ${givenKey} both set ${key}, to different values`);
    }
    target[key] = value;
  }
  checkOpenOptions(options);
  return { names, partArgs, options };
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

const kindOf = (names: Record<FlexRole, string>): string => [names.store, names.lock, names.generate, names.serialize].join('|').toLowerCase();

/**
 * The flavor that Flex names and part arguments make: built once, then reused until closed. The part
 * arguments are checked when a flavor is built for them, not on every open.
 */
export function flexFlavor(names: Record<FlexRole, string>, partArgs: Record<string, unknown>, kind = kindOf(names)): Promise<Flavor> {
  return cachedFlavor(kind, partArgs, () => {
    checkPartArguments(names, partArgs, OPEN_OPTION_NAMES);
    return buildFlexFlavor(names, partArgs);
  });
}

async function buildFlexFlavor(names: Record<FlexRole, string>, partArgs: Record<string, unknown>): Promise<Flavor> {
  return defineSession({
    store: await makePart('store', names.store, partArgs),
    locker: await makePart('lock', names.lock, partArgs),
    generator: await makePart('generate', names.generate, partArgs),
    serializer: await makePart('serialize', names.serialize, partArgs),
  });
}

/** A flavor whose parts come from each open's arguments (a pool, a url, a table, a directory). */
export interface ConfiguredFlavor<A extends OpenOptions> {
  /** Opens the session `id`. */
  open<T extends object = SessionData>(id: string, args?: A): Promise<Session<T>>;
  /** Creates a new session when `id` is undefined: none of its fields exist yet, hence `Partial<T>`. */
  open<T extends object = SessionData>(id?: string, args?: A): Promise<Session<Partial<T>>>;
  /** `Flavor.with` on the flavor these arguments make: saved when `fn` returns, discarded when it throws. */
  with<T extends object = SessionData, R = void>(id: string | undefined, fn: (session: Session<T>) => R | Promise<R>, args?: A): Promise<R>;
  /** The flavor `open` uses for these arguments: its parts, `purge`, `close`. */
  flavor(args?: A): Promise<Flavor>;
  /**
   * Closes the flavors made with these arguments — `{ uri }` alone closes those of every table on that
   * server; no arguments closes every flavor this one made — and the pools tied created for them.
   */
  close(args?: A): Promise<void>;
}

type RoleNames = Partial<Record<FlexRole, string>>;

/**
 * `open`, `with`, `flavor` and `close` over the flavors of `kind` that `flavorOf` makes from part
 * arguments (and the role names given, for a flavor that lets the caller pick one); `kind` may be the
 * kinds a `close` with these names closes.
 */
export function configuredFlavor<A extends OpenOptions>(
  kind: string | ((names: RoleNames) => readonly string[]),
  flavorOf: (partArgs: Record<string, unknown>, names: RoleNames) => Promise<Flavor>,
): ConfiguredFlavor<A> {
  // Anything but an object is taken as its spread, so that undefined is no arguments.
  const split = (args: A | undefined) => splitFlexArgs((typeof args === 'object' && args !== null ? args : { ...(args as object | undefined) }) as FlexArgs);
  const kindsOf = typeof kind === 'string' ? () => [kind] : kind;
  return {
    async open<T extends object = SessionData>(id?: string, args?: A): Promise<Session<T>> {
      const { names, partArgs, options } = split(args);
      const flavor = await flavorOf(partArgs, names);
      return await flavor.open<T>(id as string, options);
    },
    async with<T extends object, R>(id: string | undefined, fn: (session: Session<T>) => R | Promise<R>, args?: A): Promise<R> {
      const { names, partArgs, options } = split(args);
      return (await flavorOf(partArgs, names)).with<T, R>(id, fn, options);
    },
    flavor(args) {
      const { names, partArgs } = split(args);
      return flavorOf(partArgs, names);
    },
    async close(args) {
      const { names, partArgs } = split(args);
      for (const each of kindsOf(names)) await closeCachedFlavors(each, partArgs);
    },
  };
}

/**
 * A configured flavor over Flex part names (`MySQLSession` is the MySQL store and lock, nanoid,
 * superjson). `locks`: the lock names a caller may pick with the argument `lock` (the first of
 * `names.lock` alone by default); `close` without one closes the flavors of each. Each choice's
 * names and kind are made once.
 */
export function configuredFlexFlavor<A extends OpenOptions>(names: Record<FlexRole, string>, locks: readonly string[] = [names.lock]): ConfiguredFlavor<A> {
  const choices = new Map(locks.map((lock) => {
    const chosen = { ...names, lock };
    return [lock.toLowerCase(), { names: chosen, kind: kindOf(chosen) }] as const;
  }));
  const choiceOf = (lock: string | undefined) => {
    const choice = choices.get(String(lock ?? names.lock).toLowerCase());
    if (choice === undefined) throw new TypeError(`lock must be ${locks.map((name) => `'${name}'`).join(' or ')}, got ${JSON.stringify(lock)}`);
    return choice;
  };
  return configuredFlavor<A>(
    (given) => (given.lock === undefined ? locks : [given.lock]).map((lock) => choiceOf(lock).kind),
    (partArgs, given) => {
      const { names: chosen, kind } = choiceOf(given.lock);
      return flexFlavor(chosen, partArgs, kind);
    },
  );
}
