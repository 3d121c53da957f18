import type { Flavor, StoredSessionInfo } from '@tied/core';
import { CliError, EXIT } from './exit-codes.js';

/** The sessions of a store, or a clear error when the store cannot list them. */
export function listSessions(flavor: Flavor, doing: string): AsyncIterable<StoredSessionInfo> {
  const { store } = flavor.parts;
  if (!store.capabilities.list || !store.list) throw new CliError(`The ${store.name} store doesn't support listing its sessions, so it cannot ${doing}`, EXIT.unsupported);
  return store.list();
}

/** Throws unless the store keeps when each session was last saved (Perl's schemas do not). */
export function requireUpdatedAt(flavor: Flavor, doing: string): void {
  const { store } = flavor.parts;
  if (!store.capabilities.updatedAt) {
    throw new CliError(`The ${store.name} store doesn't keep when sessions were saved (Perl's schema has no updated_at), so it cannot ${doing}`, EXIT.unsupported);
  }
}

/** Keeps the `limit` newest entries seen (or all of them), newest first. */
export class NewestFirst {
  private readonly entries: StoredSessionInfo[] = [];

  constructor(private readonly limit = Infinity) {}

  add(entry: StoredSessionInfo): void {
    const time = entry.updatedAt ?? -Infinity;
    if (this.entries.length >= this.limit && time <= (this.entries.at(-1)!.updatedAt ?? -Infinity)) return;
    // Binary search for the place that keeps the array sorted newest first.
    let low = 0;
    let high = this.entries.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if ((this.entries[middle]!.updatedAt ?? -Infinity) >= time) low = middle + 1;
      else high = middle;
    }
    this.entries.splice(low, 0, entry);
    if (this.entries.length > this.limit) this.entries.pop();
  }

  get sorted(): readonly StoredSessionInfo[] {
    return this.entries;
  }
}
