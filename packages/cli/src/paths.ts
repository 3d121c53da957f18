import { CliError, EXIT } from './exit-codes.js';

/**
 * Dot paths into session data: `user.name`, `cart.items.0.qty`. A segment that is all digits indexes
 * an array when the value there is one. Keys with a dot cannot be reached (documented in the README).
 */
export function parsePath(path: string): string[] {
  const segments = path.split('.');
  if (path === '' || segments.some((segment) => segment === '')) {
    throw new CliError(`"${path}" is not a path; use dot-separated keys such as user.name or cart.items.0`, EXIT.usage);
  }
  if (segments.some((segment) => segment === '__proto__' || segment === 'constructor' || segment === 'prototype')) {
    throw new CliError(`"${path}" names an object's prototype, which is not session data`, EXIT.usage);
  }
  return segments;
}

type Container = Record<string, unknown> | unknown[];

function isContainer(value: unknown): value is Container {
  return typeof value === 'object' && value !== null && (Array.isArray(value) || Object.getPrototypeOf(value) === Object.prototype || Object.getPrototypeOf(value) === null);
}

/** Maps are walked by key too, so superjson sessions with Maps can be edited. */
function child(value: unknown, key: string): { found: boolean; value?: unknown } {
  if (value instanceof Map) return value.has(key) ? { found: true, value: value.get(key) } : { found: false };
  if (isContainer(value) && Object.hasOwn(value, key)) return { found: true, value: (value as Record<string, unknown>)[key] };
  return { found: false };
}

/** The value at `path`; `found: false` when any segment is missing. */
export function getPath(data: unknown, path: string[]): { found: boolean; value?: unknown } {
  let current: { found: boolean; value?: unknown } = { found: true, value: data };
  for (const key of path) {
    current = child(current.value, key);
    if (!current.found) return current;
  }
  return current;
}

/** The container that holds the last segment, creating plain objects for missing intermediate keys. */
function parentOf(data: Record<string, unknown>, path: string[], create: boolean): unknown {
  let current: unknown = data;
  for (const key of path.slice(0, -1)) {
    const next = child(current, key);
    if (next.found) {
      current = next.value;
      continue;
    }
    if (!create) return undefined;
    if (!isContainer(current) && !(current instanceof Map)) break;
    const made = {};
    setChild(current, key, made);
    current = made;
  }
  if (!isContainer(current) && !(current instanceof Map)) {
    throw new CliError(`Cannot go into ${path.slice(0, -1).join('.')}: it holds a ${describe(current)}, not an object`, EXIT.usage);
  }
  return current;
}

function setChild(container: Container | Map<unknown, unknown>, key: string, value: unknown): void {
  if (container instanceof Map) container.set(key, value);
  else if (Array.isArray(container)) {
    if (!/^\d+$/.test(key)) throw new CliError(`"${key}" is not an index of the array it names`, EXIT.usage);
    container[Number(key)] = value;
  } else container[key] = value;
}

function describe(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'array' : value instanceof Date ? 'Date' : typeof value;
}

/** Sets the value at `path`; intermediate objects are created. */
export function setPath(data: Record<string, unknown>, path: string[], value: unknown): void {
  const parent = parentOf(data, path, true) as Container | Map<unknown, unknown>;
  setChild(parent, path.at(-1)!, value);
}

/** Removes the value at `path`; false when there was none. */
export function unsetPath(data: Record<string, unknown>, path: string[]): boolean {
  const parent = parentOf(data, path, false);
  const key = path.at(-1)!;
  if (parent === undefined || !child(parent, key).found) return false;
  if (parent instanceof Map) parent.delete(key);
  else if (Array.isArray(parent)) parent.splice(Number(key), 1);
  else delete (parent as Record<string, unknown>)[key];
  return true;
}

/** A JSON argument of `set` / `new --set`. */
export function parseJsonArgument(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new CliError(`${what}: ${JSON.stringify(text)} is not JSON (a string needs its quotes: '"Ann"'); ${(error as Error).message}`, EXIT.usage);
  }
}
