import type { FusedAccess, PurgeOptions } from './roles.js';
import { separateAccess } from './separate-access.js';
import { checkOpenOptions, openWith, tied, type OpenOptions, type Session, type SessionData, type SessionParts } from './session.js';

/** Four parts picked together, like `Apache::Session::MySQL`: open sessions with them. */
export interface Flavor {
  readonly parts: Readonly<SessionParts>;
  /** Opens the session `id`. */
  open<T extends object = SessionData>(id: string, options?: OpenOptions): Promise<Session<T>>;
  /** Creates a new session when `id` is undefined: none of its fields exist yet, hence `Partial<T>`. */
  open<T extends object = SessionData>(id?: string, options?: OpenOptions): Promise<Session<Partial<T>>>;
  /**
   * Opens the session `id` (or a new one), runs `fn` with it, and releases it: saved when `fn`
   * returns, discarded when it throws (the error is rethrown) — as if the changes rolled back.
   * The form that runs on every Node version (Node 20 has no `await using`).
   */
  with<T extends object = SessionData, R = void>(id: string | undefined, fn: (session: Session<T>) => R | Promise<R>, options?: OpenOptions): Promise<R>;
  /**
   * Removes the sessions not saved for `olderThan` ms, and the locker's stale lock files when it keeps
   * any (a lock in use is never removed). Returns how many sessions were removed; `onProgress` hears
   * how far it is after each batch.
   */
  purge(options: PurgeOptions): Promise<number>;
  /** Closes the store's and the locker's connections (pools the parts created themselves). */
  close(): Promise<void>;
}

/** A locker that keeps lock files to clean up, as Perl's `Lock::File::clean`. */
interface CleanableLocker {
  clean(options: { olderThan: number }): Promise<number>;
}

const ROLES = {
  store: ['insert', 'update', 'materialize', 'remove'],
  locker: ['acquire'],
  generator: ['generate', 'validate'],
  serializer: ['serialize', 'unserialize'],
} as const;

/** Refuses a parts object with a missing or unknown role, or a part without its role's methods. */
function checkParts(parts: SessionParts): void {
  if (typeof parts !== 'object' || parts === null) throw new TypeError('defineSession expects { store, locker, generator, serializer }');
  for (const key of Object.keys(parts)) {
    if (!(key in ROLES)) throw new TypeError(`Unknown part "${key}" given to defineSession; the parts are ${Object.keys(ROLES).join(', ')}`);
  }
  for (const [role, methods] of Object.entries(ROLES)) {
    const part = (parts as unknown as Record<string, Record<string, unknown> | undefined>)[role];
    const missing = methods.filter((method) => typeof part?.[method] !== 'function');
    if (missing.length > 0) throw new TypeError(`The ${role} given to defineSession lacks ${missing.join(', ')}`);
  }
}

/**
 * Composes a flavor from a store, a locker, a generator and a serializer. `defaults` are open
 * options every `open` starts from, as they are now (a later change to the object is not seen).
 */
export function defineSession(parts: SessionParts, defaults: OpenOptions = {}): Flavor {
  checkParts(parts);
  checkOpenOptions(defaults);
  const frozenParts = Object.freeze({ ...parts });
  // Decided once per flavor: the store's fused access with this locker, or the two parts in turn.
  const access: FusedAccess = parts.store.fuse?.(parts.locker) ?? separateAccess(parts.store, parts.locker);
  // The defaults as given now; merged into an open's options only when there are any.
  const baseOptions: OpenOptions = Object.freeze({ ...defaults });
  const hasDefaults = Object.keys(baseOptions).length > 0;
  const open = <T extends object>(id?: string, options?: OpenOptions) =>
    openWith<T>(frozenParts, access, id, hasDefaults && options != null ? { ...baseOptions, ...options } : options ?? baseOptions);
  return {
    parts: frozenParts,
    open,
    async with<T extends object, R>(id: string | undefined, fn: (session: Session<T>) => R | Promise<R>, options?: OpenOptions): Promise<R> {
      if (typeof fn !== 'function') throw new TypeError('Flavor.with(id, fn) expects a function as its second argument');
      const session = await open<T>(id, options);
      let result: R;
      try {
        result = await fn(session);
      } catch (error) {
        await tied(session).discard();
        throw error;
      }
      await tied(session).release();
      return result;
    },
    async purge(options) {
      const olderThan = options?.olderThan;
      if (typeof olderThan !== 'number' || !(olderThan >= 0)) throw new TypeError('purge({ olderThan }) expects a number of milliseconds ≥ 0');
      const onProgress = options?.onProgress;
      if (onProgress !== undefined && typeof onProgress !== 'function') throw new TypeError('purge({ onProgress }) expects a function');
      if (!parts.store.purge) throw new TypeError(`The ${parts.store.name} store cannot purge`);
      const removed = await parts.store.purge({ olderThan, onProgress });
      await (parts.locker as Partial<CleanableLocker>).clean?.({ olderThan });
      return removed;
    },
    async close() {
      await Promise.all([parts.store.close?.(), parts.locker.close?.()]);
    },
  };
}
