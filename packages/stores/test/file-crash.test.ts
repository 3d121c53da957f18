import { afterAll, expect, test } from '@jest/globals';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freshId } from '@tied/conformance/jest';
import { superjson } from '@tied/serializers';
import { fileStore, slotFileParts } from '@tied/stores/file';

const root = mkdtempSync(join(tmpdir(), 'tied-file-crash-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const WRITER = new URL('./fixtures/file-writer.mjs', import.meta.url).pathname;
const SLOT_WRITER = new URL('./fixtures/slot-writer.mjs', import.meta.url).pathname;
const KILLS = 20;

/** The session the writer saves as `version` of `id`: every byte follows from the two. */
function expectedFill(id: string, version: number, bytes = 1024 * 1024): string {
  const unit = `${id}:${version};`;
  return unit.repeat(Math.ceil(bytes / unit.length));
}

/** Runs the writer until it has saved at least once, then SIGKILLs it at a random moment. */
async function runAndKill(writer: string[], ids: string[], confirmed: Map<string, number>): Promise<void> {
  const child = spawn(process.execPath, [...writer, ...ids], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  let buffered = '';
  let firstSave: () => void;
  const saved = new Promise<void>((resolve) => { firstSave = resolve; });
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk;
    const lines = buffered.split('\n');
    buffered = lines.pop()!;
    for (const line of lines) {
      const [id, version] = line.split(' ');
      confirmed.set(id!, Number(version));
      firstSave();
    }
  });
  await Promise.race([saved, exited]);
  await new Promise((resolve) => setTimeout(resolve, Math.random() * 40));
  child.kill('SIGKILL');
  expect(await exited).toBeNull();
}

test(`a writer of 1 MB sessions SIGKILLed ${KILLS} times leaves every session whole, at a version it wrote`, async () => {
  const directory = join(root, 'sessions');
  const store = fileStore({ directory });
  const serializer = superjson();
  const ids = [freshId(), freshId(), freshId()];
  const confirmed = new Map<string, number>();
  for (const id of ids) {
    await store.insert(id, serializer.serialize({ _session_id: id, version: 0, fill: expectedFill(id, 0) }));
    confirmed.set(id, 0);
  }
  for (let kill = 1; kill <= KILLS; kill++) {
    await runAndKill([WRITER, directory], ids, confirmed);
    for (const id of ids) {
      const session = serializer.unserialize((await store.materialize(id)).data) as { _session_id: string; version: number; fill: string };
      // The last version it reported, or the one it was writing when killed.
      expect([confirmed.get(id), confirmed.get(id)! + 1]).toContain(session.version);
      expect(session.fill === expectedFill(id, session.version)).toBe(true);
      confirmed.set(id, session.version);
    }
  }
  // Temporary files a kill left behind are not sessions.
  const listed = [];
  for await (const info of store.list()) listed.push(info.id);
  expect(listed.sort()).toEqual([...ids].sort());
});

/** The two-slot files (FileSession's), written through the fused path: steady 1 MB saves, or saves that grow the slots. */
for (const kind of ['steady', 'grow'] as const) {
  const size = (version: number) => (kind === 'grow' ? 1024 * 2 ** Math.min(version, 10) : 1024 * 1024);
  test(`two-slot files: a ${kind === 'grow' ? 'writer growing its sessions' : 'writer of 1 MB sessions'} SIGKILLed ${KILLS} times leaves every session whole, at a version it wrote`, async () => {
    const directory = join(root, `slots-${kind}`);
    const { store } = slotFileParts({ directory });
    const serializer = superjson();
    const ids = [freshId(), freshId(), freshId()];
    const confirmed = new Map<string, number>();
    const start = async () => {
      for (const id of ids) {
        // Growing: each run starts from small slots again, so kills land in growths.
        await store.remove(id);
        await store.insert(id, serializer.serialize({ _session_id: id, version: 0, fill: expectedFill(id, 0, size(0)) }));
        confirmed.set(id, 0);
      }
    };
    await start();
    for (let kill = 1; kill <= KILLS; kill++) {
      await runAndKill([SLOT_WRITER, directory, kind], ids, confirmed);
      for (const id of ids) {
        const session = serializer.unserialize((await store.materialize(id)).data) as { _session_id: string; version: number; fill: string };
        expect([confirmed.get(id), confirmed.get(id)! + 1]).toContain(session.version);
        expect(session.fill === expectedFill(id, session.version, size(session.version))).toBe(true);
      }
      if (kind === 'grow') await start();
      else for (const id of ids) confirmed.set(id, (serializer.unserialize((await store.materialize(id)).data) as { version: number }).version);
    }
    // Grown files a kill left before their rename are not sessions, and purge removes them once old.
    const listed = [];
    for await (const info of store.list()) listed.push(info.id);
    expect(listed.sort()).toEqual([...ids].sort());
  }, 120_000);
}
