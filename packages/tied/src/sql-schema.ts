import type { Store } from '@tied/core';

/**
 * Reads a SQL store's table layout when its flavor is made, so that its capabilities (purge,
 * maxAge) are known before the first session. A table that does not exist yet is reported at its
 * first use instead, with the same message.
 */
export async function detectSchema(store: Store & { detectSchema(): Promise<unknown> }): Promise<void> {
  await store.detectSchema().catch(() => {});
}
