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
