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
