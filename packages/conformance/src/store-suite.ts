import { afterAll, describe, expect } from '@jest/globals';
import { SessionExistsError, SessionNotFoundError, SessionTooLargeError, type Payload, type Store } from '@tied/core';
import { bytesOf, freshId, rejectionOf, testIf, testOrSkip, type SuiteOptions } from './common.js';

const ONE_MB = 1024 * 1024;

/**
 * The contract every Store keeps. Tests that need a capability the store does not declare (binary
 * or text payloads, list, purge, updatedAt, a size limit) are skipped with that reason.
 */
export function storeSuite(options: SuiteOptions<Store>): void {
  const { name, skip } = options;
  describe(`${name} (store conformance)`, () => {
    const store = skip === undefined ? options.factory() : undefined!;
    const caps = store?.capabilities ?? { binary: true, text: true, updatedAt: true, persistent: true, list: true, purge: true };
    const test = testOrSkip(skip);
    afterAll(async () => {
      await store?.close?.();
    });

    /** The form of payload this store takes: text when it can, else the UTF-8 bytes. */
    const payload = (text: string): Payload => (caps.text ? text : new TextEncoder().encode(text));
    const read = async (id: string) => bytesOf((await store.materialize(id)).data).toString('utf8');
    const limit = caps.maxPayloadBytes;

    test('declares its capabilities', () => {
      expect(typeof store.name).toBe('string');
      for (const key of ['binary', 'text', 'updatedAt', 'persistent', 'list', 'purge'] as const) expect(typeof caps[key]).toBe('boolean');
      expect(caps.binary || caps.text).toBe(true);
      expect(caps.list).toBe(typeof store.list === 'function');
      expect(caps.purge).toBe(typeof store.purge === 'function');
    });

    test('insert then materialize gives back the same bytes', async () => {
      const id = freshId();
      await store.insert(id, payload('{"a":1,"name":"Ann"}'));
      expect(await read(id)).toBe('{"a":1,"name":"Ann"}');
    });

    testIf(skip, caps.text, 'no text payloads')('text payloads keep every Unicode character', async () => {
      const text = 'Grüße — 表示名 — 🚀 — \u0000 — \uFFFD';
      const id = freshId();
      await store.insert(id, text);
      expect(await read(id)).toBe(text);
    });

    testIf(skip, caps.binary, 'no binary payloads')('binary payloads keep every byte value', async () => {
      const bytes = Uint8Array.from({ length: 512 }, (_, i) => i % 256);
      const id = freshId();
      await store.insert(id, bytes);
      expect(bytesOf((await store.materialize(id)).data).equals(Buffer.from(bytes))).toBe(true);
    });

    testIf(skip, caps.binary, 'no binary payloads')('changing a payload after insert or materialize changes nothing stored', async () => {
      const id = freshId();
      const inserted = Uint8Array.of(1, 2, 3);
      await store.insert(id, inserted);
      inserted[1] = 42;
      const first = (await store.materialize(id)).data as Uint8Array;
      first[0] = 99;
      expect([...bytesOf((await store.materialize(id)).data)]).toEqual([1, 2, 3]);
    });

    test('materialize of a missing id throws SessionNotFoundError', async () => {
      const error = await rejectionOf(store.materialize(freshId()));
      expect(error).toBeInstanceOf(SessionNotFoundError);
      expect((error as Error).message).toContain('Object does not exist in the data store');
    });

    test('insert of an existing id throws SessionExistsError and keeps the stored version', async () => {
      const id = freshId();
      await store.insert(id, payload('first'));
      expect(await rejectionOf(store.insert(id, payload('second')))).toBeInstanceOf(SessionExistsError);
      expect(await read(id)).toBe('first');
    });

    test('concurrent inserts of one id: exactly one wins', async () => {
      const id = freshId();
      const results = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => store.insert(id, payload(`writer ${i}`))));
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(SessionExistsError);
    });

    test('update replaces the stored version', async () => {
      const id = freshId();
      await store.insert(id, payload('v1'));
      await store.update(id, payload('v2 is longer than v1'));
      await store.update(id, payload('v3'));
      expect(await read(id)).toBe('v3');
    });

    test('update of a missing id throws SessionNotFoundError and creates nothing', async () => {
      const id = freshId();
      expect(await rejectionOf(store.update(id, payload('x')))).toBeInstanceOf(SessionNotFoundError);
      expect(await rejectionOf(store.materialize(id))).toBeInstanceOf(SessionNotFoundError);
    });

    test('remove deletes; removing a missing id is not an error', async () => {
      const id = freshId();
      await store.insert(id, payload('x'));
      await store.remove(id);
      expect(await rejectionOf(store.materialize(id))).toBeInstanceOf(SessionNotFoundError);
      await store.remove(id);
      await store.remove(freshId());
    });

    testIf(skip, limit === undefined || limit >= ONE_MB, `maxPayloadBytes ${limit} < 1 MB`)('a 1 MB session round-trips whole', async () => {
      const id = freshId();
      await store.insert(id, payload('small'));
      const big = 'x'.repeat(ONE_MB - 16) + 'the end of 1 MB!';
      await store.update(id, payload(big));
      const back = bytesOf((await store.materialize(id)).data);
      expect(back.length).toBe(ONE_MB);
      expect(back.subarray(-16).toString()).toBe('the end of 1 MB!');
    });

    testIf(skip, limit !== undefined, 'no maxPayloadBytes')('a payload over maxPayloadBytes is refused with SessionTooLargeError, the stored version kept', async () => {
      const id = freshId();
      await store.insert(id, payload('kept'));
      expect(await rejectionOf(store.update(id, payload('y'.repeat(limit! + 1))))).toBeInstanceOf(SessionTooLargeError);
      expect(await read(id)).toBe('kept');
      expect(await rejectionOf(store.insert(freshId(), payload('z'.repeat(limit! + 1))))).toBeInstanceOf(SessionTooLargeError);
    });

    testIf(skip, caps.updatedAt, 'no updatedAt')('materialize reports when the session was last written', async () => {
      const id = freshId();
      const before = Date.now();
      await store.insert(id, payload('t'));
      const { updatedAt } = await store.materialize(id);
      expect(typeof updatedAt).toBe('number');
      // Stores may keep whole seconds; allow for that rounding.
      expect(updatedAt!).toBeGreaterThanOrEqual(before - 1000);
      expect(updatedAt!).toBeLessThanOrEqual(Date.now() + 1000);
    });

    testIf(skip, caps.list, 'no list')('list yields the stored ids with their sizes', async () => {
      const ids = [freshId(), freshId(), freshId()];
      for (const id of ids) await store.insert(id, payload(id));
      const seen = new Map<string, number | undefined>();
      for await (const info of store.list!()) seen.set(info.id, info.size);
      for (const id of ids) {
        expect(seen.has(id)).toBe(true);
        if (seen.get(id) !== undefined) expect(seen.get(id)).toBe(32);
      }
    });

    testIf(skip, caps.purge, 'no purge')('purge removes sessions older than the cutoff and returns the count', async () => {
      const old = freshId();
      await store.insert(old, payload('old'));
      expect(await store.purge!({ olderThan: 3_600_000 })).toBeGreaterThanOrEqual(0);
      await store.materialize(old);
      // Stores may keep whole seconds: wait until this session is surely older than the cutoff.
      await new Promise((resolve) => setTimeout(resolve, 2100));
      const fresh = freshId();
      await store.insert(fresh, payload('new'));
      expect(await store.purge!({ olderThan: 1000 })).toBeGreaterThanOrEqual(1);
      expect(await rejectionOf(store.materialize(old))).toBeInstanceOf(SessionNotFoundError);
      expect(await read(fresh)).toBe('new');
    });
  });
}
