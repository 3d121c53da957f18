import type { FusedAccess } from './roles.js';
import { openWith, type OpenOptions, type Session, type SessionData, type SessionParts } from './session.js';

/** Four parts picked together, like `Apache::Session::MySQL`: open sessions with them. */
export interface Flavor {
  readonly parts: Readonly<SessionParts>;
  /** Opens the session `id`, or creates a new one when `id` is undefined. */
  open<T extends object = SessionData>(id?: string, options?: OpenOptions): Promise<Session<T>>;
  /** Closes the store's and the locker's connections (pools the parts created themselves). */
  close(): Promise<void>;
}

/**
 * Composes a flavor from a store, a locker, a generator and a serializer. `defaults` are open
 * options every `open` starts from.
 */
export function defineSession(parts: SessionParts, defaults: OpenOptions = {}): Flavor {
  const frozenParts = Object.freeze({ ...parts });
  // Decided once per flavor: whether the store can piggyback on this locker's round trips.
  const fused: FusedAccess | undefined = parts.store.fuse?.(parts.locker);
  return {
    parts: frozenParts,
    open: (id, options) => openWith(frozenParts, fused, id, { ...defaults, ...options }),
    async close() {
      await Promise.all([parts.store.close?.(), parts.locker.close?.()]);
    },
  };
}
