import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, test } from '@jest/globals';

// Runs the bench's quick concurrency workload and HTTP benchmark end to end — child processes,
// autocannon, the report, the JSON — for the memory and file backends, which need no server, and
// checks the counts (never the timings): tied loses no update and nothing stalls.

const RUN = fileURLToPath(new URL('../run.mjs', import.meta.url));

interface CycleAnswer {
  result?: { cycles: number; acknowledged: number; stored: number; lost: number; stalled: boolean; errors: number };
  unavailable?: string;
  error?: string;
}
interface ConcurrencyRow {
  backend: string;
  workers: number;
  appMs: number;
  tied: { target: string; answer: CycleAnswer };
  peer: { target: string; answer: CycleAnswer };
}
interface HttpAnswer {
  result?: { acknowledged: number; final: number; lost: number; non2xx: number; errors: number };
  error?: string;
}
interface HttpRow { mode: string; backend: string; connections: number; tied: HttpAnswer; express: HttpAnswer }

let resultsDir: string;
let stdout: string;
let concurrency: ConcurrencyRow[];
let http: HttpRow[];

beforeAll(async () => {
  resultsDir = await mkdtemp(join(tmpdir(), 'tied-bench-test-'));
  const args = [RUN, '--quick', '--part', 'concurrency,http', '--only', 'memory,file', '--workers', '1,4', '--connections', '1,4', '--modes', 'shared,own', '--seconds', '0.2', '--results', resultsDir];
  ({ stdout } = await promisify(execFile)(process.execPath, args, { maxBuffer: 16 << 20 }));
  const [file] = (await readdir(resultsDir)).filter((name) => name.endsWith('.json'));
  if (file === undefined) throw new Error(`run.mjs wrote no JSON into ${resultsDir}`);
  ({ concurrency, http } = JSON.parse(await readFile(join(resultsDir, file), 'utf8')) as { concurrency: ConcurrencyRow[]; http: HttpRow[] });
}, 170_000);

afterAll(() => rm(resultsDir, { recursive: true, force: true }));

test('the report has the concurrency and HTTP tables with a verdict per row', () => {
  expect(stdout).toContain('## Concurrency');
  expect(stdout).toContain('## HTTP');
  expect(stdout.match(/\*\*(MET|MISSED)\*\*/g)).toHaveLength(8);
});

test('concurrency: every point of memory and file ran for tied and its peer', () => {
  const points = concurrency.map((row) => `${row.backend} ${row.workers} ${row.appMs} ${row.tied.target} ${row.peer.target}`);
  expect(points).toEqual(['memory', 'file'].flatMap((backend) => [1, 4].flatMap((workers) => [0, 2].map((appMs) => `${backend} ${workers} ${appMs} tied-${backend} peer-${backend}`))));
});

test('concurrency: tied stores every acknowledged increment, with no stall and no failed cycle', () => {
  for (const row of concurrency) {
    const result = row.tied.answer.result;
    expect({ point: `${row.backend} C=${row.workers} app=${row.appMs}`, error: row.tied.answer.error, stalled: result?.stalled, errors: result?.errors, lost: result?.lost })
      .toEqual({ point: `${row.backend} C=${row.workers} app=${row.appMs}`, error: undefined, stalled: false, errors: 0, lost: 0 });
    expect(result?.cycles).toBeGreaterThan(0);
    expect(result?.stored).toBe(result?.acknowledged);
  }
});

test('concurrency: the peers ran to the end too (their lost updates are counted, not judged)', () => {
  for (const row of concurrency) {
    const result = row.peer.answer.result;
    expect(result?.stalled).toBe(false);
    expect(result?.lost).toBe((result?.acknowledged ?? 0) - (result?.stored ?? 0));
  }
});

test('http: @tied/http loses no update on memory and file, on one shared session or one per connection', () => {
  expect(http.map((row) => `${row.mode} ${row.backend} ${row.connections}`))
    .toEqual(['shared', 'own'].flatMap((mode) => [`${mode} memory 1`, `${mode} memory 4`, `${mode} file 1`, `${mode} file 4`]));
  for (const row of http) {
    expect(row.tied.error).toBeUndefined();
    expect(row.tied.result).toMatchObject({ non2xx: 0, errors: 0, lost: 0 });
    expect(row.tied.result?.final).toBe(row.tied.result?.acknowledged);
    expect(row.express.result?.final).toBeLessThanOrEqual(row.express.result?.acknowledged ?? 0);
  }
});
