import assert from 'node:assert/strict';
import { SessionExistsError, SessionNotFoundError, SessionTooLargeError, type Payload, type Store } from '@tied/core';
import { assertInstanceOf, bytesOf, freshId, rejectsWith, sleep, type SuiteOptions } from './common.js';
import { afterAllOf, testIf, testOrSkip, type TestRunner } from './runner.js';

const ONE_MB = 1024 * 1024;

/**
 * The contract every Store keeps. Tests that need a capability the store does not declare (binary
 * or text payloads, list, purge, updatedAt, a size limit) are skipped with that reason.
 */
export function storeSuite(runner: TestRunner, options: SuiteOptions<Store>): void {
  const { name, skip } = options;
  runner.describe(`${name} (store conformance)`, () => {
    const store = skip === undefined ? options.factory() : undefined!;
    const caps = store?.capabilities ?? { binary: true, text: true, updatedAt: true, persistent: true, list: true, purge: true };
    const test = testOrSkip(runner, skip);
    afterAllOf(runner)(async () => {
      await store?.close?.();
    });

    /** The form of payload this store takes: text when it can, else the UTF-8 bytes. */
    const payload = (text: string): Payload => (caps.text ? text : new TextEncoder().encode(text));
    const read = async (id: string) => bytesOf((await store.materialize(id)).data).toString('utf8');
    const limit = caps.maxPayloadBytes;

    test('declares its capabilities', async () => {
      assert.equal(typeof store.name, 'string');
      for (const key of ['binary', 'text', 'updatedAt', 'persistent', 'list', 'purge'] as const) assert.equal(typeof caps[key], 'boolean', key);
      assert.ok(caps.binary || caps.text, 'a store takes binary or text payloads');
      assert.equal(caps.list, typeof store.list === 'function', 'capabilities.list says whether list() exists');
      assert.equal(caps.purge, typeof store.purge === 'function', 'capabilities.purge says whether purge() exists');
    });

    test('insert then materialize gives back the same bytes', async () => {
      const id = freshId();
      await store.insert(id, payload('{"a":1,"name":"Ann"}'));
      assert.equal(await read(id), '{"a":1,"name":"Ann"}');
    });

    testIf(runner, skip, caps.text, 'no text payloads')('text payloads keep every Unicode character', async () => {
      const text = 'Grüße — 表示名 — 🚀 — \u0000 — \uFFFD';
      const id = freshId();
      await store.insert(id, text);
      assert.equal(await read(id), text);
    });

    testIf(runner, skip, caps.binary, 'no binary payloads')('binary payloads keep every byte value', async () => {
      const bytes = Uint8Array.from({ length: 512 }, (_, i) => i % 256);
      const id = freshId();
      await store.insert(id, bytes);
      assert.deepEqual([...bytesOf((await store.materialize(id)).data)], [...bytes]);
    });

    testIf(runner, skip, caps.binary, 'no binary payloads')('changing a payload after insert or materialize changes nothing stored', async () => {
      const id = freshId();
      const inserted = Uint8Array.of(1, 2, 3);
      await store.insert(id, inserted);
      inserted[1] = 42;
      const first = (await store.materialize(id)).data as Uint8Array;
      first[0] = 99;
      assert.deepEqual([...bytesOf((await store.materialize(id)).data)], [1, 2, 3]);
    });

    test('materialize of a missing id throws SessionNotFoundError', async () => {
      const error = await rejectsWith(store.materialize(freshId()), SessionNotFoundError);
      assert.match(error.message, /Object does not exist in the data store/);
    });

    test('insert of an existing id throws SessionExistsError and keeps the stored version', async () => {
      const id = freshId();
      await store.insert(id, payload('first'));
      await rejectsWith(store.insert(id, payload('second')), SessionExistsError);
      assert.equal(await read(id), 'first');
    });

    test('concurrent inserts of one id: exactly one wins', async () => {
      const id = freshId();
      const results = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => store.insert(id, payload(`writer ${i}`))));
      assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
      for (const r of results) if (r.status === 'rejected') assertInstanceOf(r.reason, SessionExistsError);
    });

    test('update replaces the stored version', async () => {
      const id = freshId();
      await store.insert(id, payload('v1'));
      await store.update(id, payload('v2 is longer than v1'));
      await store.update(id, payload('v3'));
      assert.equal(await read(id), 'v3');
    });

    test('update of a missing id throws SessionNotFoundError and creates nothing', async () => {
      const id = freshId();
      await rejectsWith(store.update(id, payload('x')), SessionNotFoundError);
      await rejectsWith(store.materialize(id), SessionNotFoundError);
    });

    test('remove deletes; removing a missing id is not an error', async () => {
      const id = freshId();
      await store.insert(id, payload('x'));
      await store.remove(id);
      await rejectsWith(store.materialize(id), SessionNotFoundError);
      await store.remove(id);
      await store.remove(freshId());
    });

    testIf(runner, skip, limit === undefined || limit >= ONE_MB, `maxPayloadBytes ${limit} < 1 MB`)('a 1 MB session round-trips whole', async () => {
      const id = freshId();
      await store.insert(id, payload('small'));
      const big = 'x'.repeat(ONE_MB - 16) + 'the end of 1 MB!';
      await store.update(id, payload(big));
      const back = bytesOf((await store.materialize(id)).data);
      assert.equal(back.length, ONE_MB);
      assert.equal(back.subarray(-16).toString(), 'the end of 1 MB!');
    });

    testIf(runner, skip, limit !== undefined, 'no maxPayloadBytes')('a payload over maxPayloadBytes is refused with SessionTooLargeError, the stored version kept', async () => {
      const id = freshId();
      await store.insert(id, payload('kept'));
      await rejectsWith(store.update(id, payload('y'.repeat(limit! + 1))), SessionTooLargeError);
      assert.equal(await read(id), 'kept');
      const refused = freshId();
      await rejectsWith(store.insert(refused, payload('z'.repeat(limit! + 1))), SessionTooLargeError);
      await rejectsWith(store.materialize(refused), SessionNotFoundError);
    });

    testIf(runner, skip, caps.updatedAt, 'no updatedAt')('materialize reports when the session was last written', async () => {
      const id = freshId();
      const before = Date.now();
      await store.insert(id, payload('t'));
      const { updatedAt } = await store.materialize(id);
      assert.equal(typeof updatedAt, 'number');
      // Stores may keep whole seconds; allow for that rounding.
      assert.ok(updatedAt! >= before - 1000 && updatedAt! <= Date.now() + 1000, `updatedAt ${updatedAt} is not the time of the insert (${before})`);
    });

    testIf(runner, skip, caps.list, 'no list')('list yields the stored ids with their sizes', async () => {
      const ids = [freshId(), freshId(), freshId()];
      for (const id of ids) await store.insert(id, payload(id));
      const seen = new Map<string, number | undefined>();
      for await (const info of store.list!()) seen.set(info.id, info.size);
      for (const id of ids) {
        assert.ok(seen.has(id), `list() did not yield ${id}`);
        // The size is optional; when given, it is the payload's: 32 bytes.
        if (seen.get(id) !== undefined) assert.equal(seen.get(id), 32);
      }
    });

    testIf(runner, skip, caps.purge, 'no purge')('purge removes exactly the sessions older than the cutoff and returns their count', async () => {
      // Stores may keep whole seconds, so ages are only told apart across 2 s. First every session the
      // earlier tests (or an earlier run) wrote is made older than 1 s and removed, so that the store
      // holds only what this test writes and every count below is exact.
      await sleep(2100);
      await store.purge!({ olderThan: 1000 });
      const old = freshId();
      await store.insert(old, payload('old'));
      await sleep(2100);
      const fresh = freshId();
      await store.insert(fresh, payload('new'));
      assert.equal(await store.purge!({ olderThan: 3_600_000 }), 0, 'nothing is an hour old');
      assert.equal(await read(old), 'old');
      const reports: { removed: number; examined: number }[] = [];
      assert.equal(await store.purge!({ olderThan: 1000, onProgress: (progress) => reports.push(progress) }), 1, 'one session is older than 1 s');
      // At least the report at the end, which has the final count; examined counts the fresh session when the store looks at it.
      assert.equal(reports.at(-1)?.removed, 1, 'onProgress ends with the count purge returns');
      assert.ok(reports.at(-1)!.examined >= 1, 'onProgress counts the sessions examined');
      await rejectsWith(store.materialize(old), SessionNotFoundError);
      assert.equal(await read(fresh), 'new');
    });
  });
}
