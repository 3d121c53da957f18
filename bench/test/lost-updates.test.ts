import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, test } from '@jest/globals';

// Runs the bench's quick lost-update mode end to end — child processes, the report, the JSON — for
// tied's flavors that need no server, so the harness cannot rot between benchmark runs.

const RUN = fileURLToPath(new URL('../run.mjs', import.meta.url));
const TARGETS = ['tied-memory', 'tied-file'];

interface Outcome {
  result?: { final: number; expected: number; lost: number };
  unavailable?: string;
  error?: string;
}

let resultsDir: string;
let stdout: string;
let lostUpdates: Record<string, Outcome>;

beforeAll(async () => {
  resultsDir = await mkdtemp(join(tmpdir(), 'tied-bench-test-'));
  const args = [RUN, '--quick', '--part', 'lost-updates', '--only', TARGETS.join(','), '--results', resultsDir];
  ({ stdout } = await promisify(execFile)(process.execPath, args));
  const [file] = (await readdir(resultsDir)).filter((name) => name.endsWith('.json'));
  if (file === undefined) throw new Error(`run.mjs wrote no JSON into ${resultsDir}`);
  ({ lostUpdates } = JSON.parse(await readFile(join(resultsDir, file), 'utf8')) as { lostUpdates: Record<string, Outcome> });
});

afterAll(() => rm(resultsDir, { recursive: true, force: true }));

test('the Markdown report lists every tied in-process flavor', () => {
  expect(stdout).toContain('## Lost updates');
  for (const label of ['tied MemorySession', 'tied FileSession']) expect(stdout).toContain(label);
});

test.each(TARGETS)('%s loses no update: 4 processes × 25 increments end at 100', (target) => {
  expect(lostUpdates[target]).toEqual({ result: { final: 100, expected: 100, lost: 0 } });
});
