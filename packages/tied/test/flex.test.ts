import { describe, expect, test } from '@jest/globals';
import { MemorySession, memoryStore, openSession, registerPart, tied, type Store } from 'tied';

describe('Flex: parts by name', () => {
  test('names are case-insensitive and the same names reuse one flavor (one memory store)', async () => {
    const created = await openSession(undefined, { store: 'memory', lock: 'MEMORY', generate: 'md5', serialize: 'json' });
    created.n = 1;
    const id = created._session_id;
    expect(id).toMatch(/^[0-9a-f]{32}$/);
    await tied(created)!.release();
    await using again = await openSession(id, { store: 'Memory', lock: 'Memory', generate: 'MD5', serialize: 'JSON' });
    expect(again.n).toBe(1);
  });

  test('MemorySession and Flex Memory share the process memory store', async () => {
    const created = await MemorySession.open();
    created.from = 'MemorySession';
    const id = created._session_id;
    await tied(created)!.release();
    await using viaFlex = await openSession(id, { store: 'Memory', lock: 'Null' });
    expect(viaFlex.from).toBe('MemorySession');
  });

  test('open options travel in the same object as the names', async () => {
    const holder = await MemorySession.open();
    const id = holder._session_id;
    await expect(openSession(id, { store: 'Memory', lockTimeout: 30 })).rejects.toMatchObject({ code: 'ERR_LOCK_TIMEOUT' });
    await tied(holder)!.release();
  });

  test('an unknown part name is a clear TypeError listing the known ones', async () => {
    await expect(openSession(undefined, { store: 'Oracle' })).rejects.toThrow(/No store part named "Oracle"; known: .*memory/);
    await expect(openSession(undefined, { store: 'Memory', serialize: 'YAML' })).rejects.toThrow(/No serialize part named "YAML"/);
  });

  test('registerPart adds a user part, which receives the Flex arguments', async () => {
    const seen: unknown[] = [];
    const backing = memoryStore();
    registerPart('store', 'Audited', (args): Store => {
      seen.push(args.auditLabel);
      return { ...backing, name: 'audited' };
    });
    const created = await openSession(undefined, { store: 'Audited', lock: 'Memory', auditLabel: 'finance' });
    created.x = 1;
    const id = created._session_id;
    await tied(created)!.release();
    await using again = await openSession(id, { store: 'audited', lock: 'Memory', auditLabel: 'finance' });
    expect(again.x).toBe(1);
    expect(seen).toEqual(['finance']);
    expect(() => registerPart('cache' as 'store', 'X', () => backing)).toThrow(/Unknown Flex role/);
  });
});

describe('Flex: arguments are checked, and the callback form', () => {
  test('an argument no part takes is a TypeError naming what they take', async () => {
    await expect(openSession(undefined, { store: 'Memory', lockTimout: 500 })).rejects.toThrow(
      /Unknown argument "lockTimout" for the parts Memory, Memory, Nanoid, SuperJSON\. They take: size; the open options are .*lockTimeout/,
    );
    await expect(openSession(undefined, { store: 'Memory', lockTimeout: 'soon' as never })).rejects.toThrow(/lockTimeout has an invalid value/);
  });

  test('a user part that declares no arguments lets every argument through', async () => {
    registerPart('store', 'Open', () => ({ ...memoryStore(), name: 'open' }));
    await openSession.with(undefined, () => {}, { store: 'Open', lock: 'Null', anything: 1 });
  });

  test('openSession.with saves when the callback returns and rolls back when it throws', async () => {
    const args = { store: 'Memory' };
    const id = await openSession.with(undefined, (session) => { session.n = 1; return session._session_id; }, args);
    await expect(openSession.with(id, (session) => { session.n = 2; throw new Error('boom'); }, args)).rejects.toThrow('boom');
    expect(await openSession.with(id, (session) => session.n, { ...args, readonly: true })).toBe(1);
  });
});
