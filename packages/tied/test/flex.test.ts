import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from '@jest/globals';
import { MemorySession, memoryStore, openSession, registerPart, tied, type Store } from 'tied';
import { File } from 'tied/apache';

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

  test('an argument no part takes is refused on every open, not only the first', async () => {
    for (let open = 0; open < 2; open++) {
      await expect(openSession(undefined, { store: 'Memory', sise: 10 })).rejects.toThrow(/Unknown argument "sise"/);
    }
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

describe('Flex: one flavor per configuration', () => {
  test('the same arguments in another order find the same flavor; look-alike values do not', async () => {
    const built: unknown[] = [];
    registerPart('store', 'Counted', (args): Store => {
      built.push({ ...args });
      return { ...memoryStore(), name: 'counted' };
    }, { arguments: ['label', 'other'] });
    const open = async (args: Record<string, unknown>) => {
      await openSession.with(undefined, () => {}, { store: 'Counted', lock: 'Memory', ...args });
    };
    await open({ label: 'x', other: true });
    await open({ other: true, label: 'x' });
    expect(built).toHaveLength(1);
    // Each value below spells, run together with its name, like the arguments of another configuration.
    await open({ label: 'x|5:other=t' });
    await open({ label: 'x', other: 't' });
    await open({ label: 1 });
    await open({ label: '1' });
    expect(built).toEqual([{ label: 'x', other: true }, { label: 'x|5:other=t' }, { label: 'x', other: 't' }, { label: 1 }, { label: '1' }]);
  });

  test('a closed flavor is not found again, in whatever order its arguments come', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'tied-flex-cache-'));
    try {
      const first = await File.flavor({ directory, lockDirectory: directory });
      expect(await File.flavor({ lockDirectory: directory, directory })).toBe(first);
      await File.close({ directory });
      const second = await File.flavor({ lockDirectory: directory, directory });
      expect(second).not.toBe(first);
      expect(await File.flavor({ directory, lockDirectory: directory })).toBe(second);
      await File.close();
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });
});
