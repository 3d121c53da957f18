import { describe, expect, test } from '@jest/globals';
import { memoryStore, openSession, registerPart, tied, type Payload, type Store } from 'tied';

/** A memory store registered under `name` that records the Flex arguments it was made with and what it stored. */
function probeStore(name: string): { seenArgs: Record<string, unknown>[]; written: Payload[] } {
  const seenArgs: Record<string, unknown>[] = [];
  const written: Payload[] = [];
  registerPart('store', name, (args): Store => {
    seenArgs.push(args);
    const backing = memoryStore();
    return {
      ...backing,
      name,
      insert: (id, data) => { written.push(data); return backing.insert(id, data); },
      update: (id, data) => { written.push(data); return backing.update(id, data); },
    };
  });
  return { seenArgs, written };
}

describe("Flex accepts Apache::Session's argument names", () => {
  test('Store, Lock, Generate, Serialize, IDLength name the parts as in Apache::Session::Flex', async () => {
    await using session = await openSession(undefined, { Store: 'Memory', Lock: 'Memory', Generate: 'MD5', Serialize: 'JSON', IDLength: 40 });
    expect(session._session_id).toMatch(/^[0-9a-f]{40}$/);
  });

  test('Directory, LockDirectory, TableName, Handle and LockHandle reach the parts under our names', async () => {
    const probe = probeStore('PerlArgsProbe');
    const pool = { name: 'a pool' };
    await using session = await openSession(undefined, {
      Store: 'PerlArgsProbe', Lock: 'Null', Directory: '/var/sessions', LockDirectory: '/var/lock/sessions',
      TableName: 'perl_sessions', Handle: pool, LockHandle: pool,
    });
    expect(tied(session)!.isNew).toBe(true);
    expect(probe.seenArgs).toEqual([{ directory: '/var/sessions', lockDirectory: '/var/lock/sessions', table: 'perl_sessions', pool }]);
  });

  test("Transaction => 1 holds the write lock from open to release; Transaction => 0 is Perl's classic read-then-write", async () => {
    const holder = await openSession(undefined, { Store: 'Memory', Lock: 'Memory' });
    const id = holder._session_id;
    await tied(holder)!.release();

    const transactional = await openSession(id, { Store: 'Memory', Lock: 'Memory', Transaction: 1 });
    await expect(openSession(id, { store: 'Memory', lock: 'Memory', lockTimeout: 30 })).rejects.toMatchObject({ code: 'ERR_LOCK_TIMEOUT' });
    await tied(transactional)!.release();

    const classic = await openSession(id, { Store: 'Memory', Lock: 'Memory', Transaction: 0 });
    // The classic mode let go of its read lock after loading, so a writer gets in at once.
    await using writer = await openSession(id, { store: 'Memory', lock: 'Memory', lockTimeout: 30 });
    expect(writer._session_id).toBe(id);
    await tied(classic)!.release();
  });

  test('Serialize => Storable writes nfreeze bytes, and Base64 the same bytes as encode_base64 text', async () => {
    const probe = probeStore('PerlPayloadProbe');
    for (const Serialize of ['Storable', 'Base64']) {
      const args = { Store: 'PerlPayloadProbe', Lock: 'Null', Generate: 'MD5', Serialize };
      const created = await openSession(undefined, args);
      created.name = 'Ann';
      const id = created._session_id;
      await tied(created)!.release();
      await using again = await openSession(id, args);
      expect(again.name).toBe('Ann');
    }
    const [, storableBytes, , base64Text] = probe.written;
    // Storable's network-order header (05 0b), then the session hash (03).
    expect([...(storableBytes as Uint8Array).subarray(0, 3)]).toEqual([0x05, 0x0b, 0x03]);
    expect(base64Text).toMatch(/^BQsD[A-Za-z0-9+/]{72}\n([A-Za-z0-9+/]{76}\n)*[A-Za-z0-9+/]*={0,2}\n$/);
    expect([...Buffer.from(base64Text as string, 'base64').subarray(0, 3)]).toEqual([0x05, 0x0b, 0x03]);
  });

  test('a Perl name and ours for one argument must agree', async () => {
    await expect(openSession(undefined, { Store: 'Memory', Directory: '/a', directory: '/b' }))
      .rejects.toThrow('Flex arguments Directory and directory both set directory, to different values');
    await expect(openSession(undefined, { Store: 'Memory', Handle: {}, LockHandle: {} }))
      .rejects.toThrow('Flex arguments Handle and LockHandle both set pool, to different values');
    await expect(openSession(undefined, { Store: 'Memory', store: 'Redis' })).rejects.toThrow(/Store and store both set store/);
    await using agreeing = await openSession(undefined, { Store: 'memory', store: 'Memory', lockTimeout: 1000, Transaction: 1, transaction: true });
    expect(tied(agreeing)!.isNew).toBe(true);
  });
});
