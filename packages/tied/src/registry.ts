import { nullLocker, type Generator, type Locker, type Serializer, type Store } from '@tied/core';
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

/** Makes a part from the Flex arguments (e.g. `{ pool }`, `{ directory }`). May load a driver lazily. */
export type PartFactory<R extends FlexRole> = (args: Record<string, unknown>) => FlexRoles[R] | Promise<FlexRoles[R]>;

export interface PartRegistration {
  /**
   * The Flex arguments this part takes (e.g. `['directory', 'fsync']`). When every part of a Flex
   * open declares its arguments, an argument no part takes — a typo such as `lockTimout` — is a
   * TypeError; a part that declares none lets every argument through.
   */
  arguments?: readonly string[];
}

interface Entry<R extends FlexRole> {
  factory: PartFactory<R>;
  arguments: ReadonlySet<string> | undefined;
}

const registry: { [R in FlexRole]: Map<string, Entry<R>> } = {
  store: new Map(),
  lock: new Map(),
  generate: new Map(),
  serialize: new Map(),
};

/** Adds a part under a name (case-insensitive) that `openSession(id, { [role]: name })` can use. */
export function registerPart<R extends FlexRole>(role: R, name: string, factory: PartFactory<R>, registration: PartRegistration = {}): void {
  if (!Object.hasOwn(registry, role)) throw new TypeError(`Unknown Flex role "${role}"; expected one of ${Object.keys(registry).join(', ')}`);
  if (typeof name !== 'string' || name === '') throw new TypeError('registerPart needs a non-empty name');
  if (typeof factory !== 'function') throw new TypeError(`registerPart('${role}', '${name}') needs a factory function`);
  const entry: Entry<R> = { factory, arguments: registration.arguments ? new Set(registration.arguments) : undefined };
  (registry[role] as Map<string, Entry<R>>).set(name.toLowerCase(), entry);
}

function entryOf<R extends FlexRole>(role: R, name: string): Entry<R> {
  const entry = registry[role].get(name.toLowerCase()) as Entry<R> | undefined;
  if (!entry) {
    const known = [...registry[role].keys()].join(', ');
    throw new TypeError(`No ${role} part named "${name}"; known: ${known} (registerPart adds your own)`);
  }
  return entry;
}

export async function makePart<R extends FlexRole>(role: R, name: string, args: Record<string, unknown>): Promise<FlexRoles[R]> {
  return entryOf(role, name).factory(args);
}

/**
 * Refuses part arguments that none of the named parts takes, listing those they do take — when every
 * part declared its arguments (see `PartRegistration`).
 */
export function checkPartArguments(names: Record<FlexRole, string>, partArgs: Record<string, unknown>, openOptionNames: Iterable<string>): void {
  const accepted = new Set<string>();
  for (const role of Object.keys(names) as FlexRole[]) {
    const declared = entryOf(role, names[role]).arguments;
    if (!declared) return;
    for (const name of declared) accepted.add(name);
  }
  for (const key of Object.keys(partArgs)) {
    if (!accepted.has(key)) {
      const parts = Object.values(names).join(', ');
      throw new TypeError(
        `Unknown argument "${key}" for the parts ${parts}. They take: ${[...accepted].sort().join(', ') || 'no arguments'}; `
        + `the open options are ${[...openOptionNames].join(', ')}`,
      );
    }
  }
}

registerPart('store', 'Memory', () => processMemory.store, { arguments: [] });
registerPart('lock', 'Memory', () => processMemory.locker, { arguments: [] });
registerPart('lock', 'Null', () => nullLocker(), { arguments: [] });
registerPart('generate', 'Nanoid', (args) => nanoid({ size: args.size as number | undefined }), { arguments: ['size'] });
registerPart('generate', 'MD5', (args) => hex({ length: args.length as number | undefined }), { arguments: ['length'] });
registerPart('generate', 'Hex', (args) => hex({ length: args.length as number | undefined }), { arguments: ['length'] });
registerPart('generate', 'UUID', () => uuid(), { arguments: [] });
registerPart('serialize', 'SuperJSON', () => superjson(), { arguments: [] });
registerPart('serialize', 'JSON', () => json(), { arguments: [] });
// Apache::Session::Serialize::Storable and ::Base64 (which is base64 of Storable's nfreeze).
registerPart('serialize', 'Storable', () => storable(), { arguments: [] });
registerPart('serialize', 'Base64', () => base64(storable()), { arguments: [] });
