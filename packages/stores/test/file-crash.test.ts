import { afterAll, expect, test } from '@jest/globals';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freshId } from '@tied/conformance';
import { superjson } from '@tied/serializers';
import { fileStore } from '@tied/stores/file';

const root = mkdtempSync(join(tmpdir(), 'tied-file-crash-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const WRITER = new URL('./fixtures/file-writer.mjs', import.meta.url).pathname;
const KILLS = 20;

/** The session the writer saves as `version` of `id`: every byte follows from the two. */
function expectedFill(id: string, version: number): string {
  const unit = `${id}:${version};`;
  return unit.repeat(Math.ceil(1024 * 1024 / unit.length));
}

/** Runs the writer until it has saved at least once, then SIGKILLs it at a random moment. */
async function runAndKill(directory: string, ids: string[], confirmed: Map<string, number>): Promise<void> {
  const child = spawn(process.execPath, [WRITER, directory, ...ids], { stdio: ['ignore', 'pipe', 'inherit'] });
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
    await runAndKill(directory, ids, confirmed);
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
