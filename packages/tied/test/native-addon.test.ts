import { afterAll, expect, test } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = mkdtempSync(join(tmpdir(), 'tied-native-addon-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

test('importing tied and tied/apache and using MemorySession loads no native addon; the first file lock loads koffi', () => {
  const fixture = new URL('./fixtures/native-addons.mjs', import.meta.url).pathname;
  const output = execFileSync(process.execPath, [fixture], { encoding: 'utf8', env: { ...process.env, TIED_DIRECTORY: join(root, 'sessions') } });
  const { afterMemory, afterFile } = JSON.parse(output) as Record<'afterMemory' | 'afterFile', { addons: string[]; koffi: boolean }>;
  expect(afterMemory).toEqual({ addons: [], koffi: false });
  // The same check sees koffi once a FileSession has locked something, so it can tell.
  expect(afterFile.koffi).toBe(true);
  expect(afterFile.addons).toEqual([expect.stringMatching(/koffi\.node$/)]);
});
