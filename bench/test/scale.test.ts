import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, test } from '@jest/globals';

// Runs the bench's scale part in quick mode end to end — a child process per backend, the report,
// the JSON — and checks the counts (never the timings): purge removes every expired session and no
// live one, list sees every session, and no request of the stream running beside them fails.
// The server backends run when their servers are there (they must be under TIED_REQUIRE_SERVICES=1).

const RUN = fileURLToPath(new URL('../run.mjs', import.meta.url));
const SERVERS = ['mysql', 'postgres', 'redis'];

interface Stream { n: number; errors: number; firstError?: string }
interface Phase { stream: Stream }
interface ScaleResult {
  removed?: number;
  progressReports?: number;
  listed?: number;
  live: number;
  liveKept: number;
  remaining: number;
  baseline?: Phase;
  listing?: Phase & { listed: number };
  purging?: Phase & { removed: number; progressReports: number };
}
interface ScaleRow { backend: string; sizes: { count: number }; answer: { result?: ScaleResult; unavailable?: string; error?: string } }

let resultsDir: string;
let stdout: string;
let rows: ScaleRow[];

beforeAll(async () => {
  resultsDir = await mkdtemp(join(tmpdir(), 'tied-bench-scale-test-'));
  const args = [RUN, '--quick', '--part', 'scale', '--results', resultsDir];
  // The bench exits 1 when a count is wrong: the tests below say which, from the JSON.
  ({ stdout } = await promisify(execFile)(process.execPath, args, { maxBuffer: 16 << 20 }).catch((error: { stdout: string }) => error));
  const [file] = (await readdir(resultsDir)).filter((name) => name.endsWith('.json'));
  if (file === undefined) throw new Error(`run.mjs wrote no JSON into ${resultsDir}`);
  ({ scale: rows } = JSON.parse(await readFile(join(resultsDir, file), 'utf8')) as { scale: ScaleRow[] });
}, 170_000);

afterAll(() => rm(resultsDir, { recursive: true, force: true }));

/** The rows that ran: memory and file always; a server backend when its server is there, or when it must be. */
function ran(): ScaleRow[] {
  return rows.filter((row) => {
    if (row.answer.unavailable && SERVERS.includes(row.backend) && process.env.TIED_REQUIRE_SERVICES !== '1') return false;
    return true;
  });
}

test('every backend has its row, and the report a verdict for each goal that ran', () => {
  expect(rows.map((row) => row.backend)).toEqual(['memory', 'file', ...SERVERS]);
  expect(stdout).toContain('## Scale');
  const verdicts = stdout.match(/\| (\*\*(MET|MISSED)\*\*|reported)[^|]*\|$/gm) ?? [];
  expect(verdicts).toHaveLength(1 + 2 + ran().filter((row) => SERVERS.includes(row.backend)).length);
});

test('purge removes every expired session and none of the live ones, with progress', () => {
  for (const { backend, sizes, answer } of ran()) {
    const r = answer.result;
    expect({ backend, error: answer.error ?? answer.unavailable }).toEqual({ backend, error: undefined });
    expect({ backend, removed: r?.purging?.removed ?? r?.removed, liveKept: r?.liveKept, remaining: r?.remaining })
      .toEqual({ backend, removed: sizes.count, liveKept: r?.live, remaining: r?.live });
    expect(r?.purging?.progressReports ?? r?.progressReports).toBeGreaterThan(0);
  }
});

test('list yields every session of the file store and of each server', () => {
  for (const { backend, sizes, answer } of ran().filter((row) => row.backend !== 'memory')) {
    const r = answer.result!;
    expect({ backend, listed: r.listing?.listed ?? r.listed }).toEqual({ backend, listed: sizes.count + r.live });
  }
});

test('servers: the request stream ran, and none of its requests failed beside list and purge', () => {
  for (const { backend, answer } of ran().filter((row) => SERVERS.includes(row.backend))) {
    const { baseline, listing, purging } = answer.result!;
    // A quick list or purge may end before a request does: only the baseline's second surely has some.
    expect(baseline!.stream.n).toBeGreaterThan(0);
    for (const phase of [baseline!, listing!, purging!]) {
      expect({ backend, errors: phase.stream.errors, firstError: phase.stream.firstError }).toEqual({ backend, errors: 0, firstError: undefined });
    }
  }
});
