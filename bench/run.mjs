#!/usr/bin/env node
// npm run bench: the cycle workload, lost updates and micro figures for tied, the raw-driver
// floors, the express-session stores and Perl's Apache::Session. See bench/README.md.
import { execFileSync } from 'node:child_process';
import { copyFile, mkdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { concurrencyChart, cycleChart, httpChart } from './lib/chart.mjs';
import { concurrencyRuns } from './lib/concurrency-runs.mjs';
import { HTTP_MODES, httpRuns } from './lib/http-bench.mjs';
import { WORKERS, lostUpdates } from './lib/lost-updates.mjs';
import { markdownReport } from './lib/report.mjs';
import { scaleCountProblems, scaleRuns, scaleSizes } from './lib/scale.mjs';
import { perlMissing, runMicro, runTask } from './lib/spawn.mjs';
import { ratios, summarizeTarget } from './lib/stats.mjs';
import { BACKENDS, selectTargets } from './lib/targets.mjs';
import { SESSION_COUNT } from './lib/workload.mjs';

const USAGE = `Usage: node bench/run.mjs [options]
  --quick             a smoke check in under a minute (300 cycles, 1 round, 4 × 25 increments)
  --cycles N          measured cycles per run (default 3000)
  --warmup N          unmeasured cycles before them (default 2000)
  --rounds N          interleaved rounds (default 5)
  --increments N      lost-update increments per process (default 250)
  --only a,b          targets by id, backend or kind (tied-file, mysql, peer, ...)
  --part a,b          cycle, lost-updates, concurrency, http, micro, scale (default: all)
  --workers a,b       concurrency: async workers in one process (default 1,32,128; quick 8)
  --app a,b           concurrency: ms of application work between open and release (default 0,2)
  --connections a,b   http: autocannon connections (default 1,32,128; quick 8)
  --modes a,b         http: shared (one session for all connections), own (one per connection); quick: shared
  --seconds N         concurrency: measured seconds per point (default 3; quick 0.3)
  --stall N           a concurrency run with no progress for N seconds is a stall (default 10)
  --scale-sessions N  scale: sessions in the file store and in memory (default 1000000; quick 2000)
  --scale-server-sessions N  scale: sessions on each server backend (default 100000; quick 1000)
  --results DIR       where the JSON and the SVG go (default bench/results)`;

const PARTS = ['cycle', 'lost-updates', 'concurrency', 'http', 'micro', 'scale'];
const BENCH_DIR = fileURLToPath(new URL('.', import.meta.url));
const DEFAULT_RESULTS = join(BENCH_DIR, 'results');

function readOptions() {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      cycles: { type: 'string' },
      warmup: { type: 'string' },
      rounds: { type: 'string' },
      increments: { type: 'string' },
      only: { type: 'string', default: '' },
      part: { type: 'string', default: PARTS.join(',') },
      results: { type: 'string', default: DEFAULT_RESULTS },
      workers: { type: 'string' },
      app: { type: 'string' },
      connections: { type: 'string' },
      modes: { type: 'string' },
      seconds: { type: 'string' },
      stall: { type: 'string' },
      'scale-sessions': { type: 'string' },
      'scale-server-sessions': { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const count = (name, normal, quick, least = 1) => {
    const text = values[name];
    if (text === undefined) return values.quick ? quick : normal;
    const n = Number(text);
    if (!Number.isInteger(n) || n < least) throw new Error(`--${name} takes a whole number of at least ${least}, not "${text}"`);
    return n;
  };
  const list = (text) => text.split(',').map((word) => word.trim()).filter(Boolean);
  const counts = (name, normal, quick) => {
    if (values[name] === undefined) return values.quick ? quick : normal;
    const numbers = list(values[name]).map(Number);
    if (numbers.length === 0 || numbers.some((n) => !Number.isInteger(n) || n < 1)) throw new Error(`--${name} takes whole numbers of at least 1, comma-separated, not "${values[name]}"`);
    return numbers;
  };
  const appMs = () => {
    if (values.app === undefined) return [0, 2];
    const numbers = list(values.app).map(Number);
    if (numbers.length === 0 || numbers.some((n) => !Number.isInteger(n) || n < 0)) throw new Error(`--app takes whole numbers of ms (0 or more), comma-separated, not "${values.app}"`);
    return numbers;
  };
  const seconds = (name, normal, quick) => {
    if (values[name] === undefined) return values.quick ? quick : normal;
    const n = Number(values[name]);
    if (!(n > 0)) throw new Error(`--${name} takes a number of seconds above 0, not "${values[name]}"`);
    return n;
  };
  const modes = values.modes === undefined ? (values.quick ? ['shared'] : HTTP_MODES) : list(values.modes);
  const unknownMode = modes.find((mode) => !HTTP_MODES.includes(mode));
  if (unknownMode || modes.length === 0) throw new Error(`--modes: ${unknownMode ? `unknown mode "${unknownMode}"` : 'none given'}; modes are ${HTTP_MODES.join(', ')}`);
  const parts = list(values.part);
  const unknownPart = parts.find((part) => !PARTS.includes(part));
  if (unknownPart) throw new Error(`--part: unknown part "${unknownPart}"; parts are ${PARTS.join(', ')}`);
  return {
    quick: values.quick,
    cycles: count('cycles', 3000, 300),
    warmup: count('warmup', 2000, 100, 0),
    rounds: count('rounds', 5, 1),
    increments: count('increments', 250, 25),
    workers: WORKERS,
    sessions: SESSION_COUNT,
    concurrency: {
      workers: counts('workers', [1, 32, 128], [8]),
      appMs: appMs(),
      sizes: {
        sessions: values.quick ? 50 : 1000,
        warmupMs: values.quick ? 200 : 1000,
        measureMs: seconds('seconds', 3, 0.3) * 1000,
        stallMs: seconds('stall', 10, 10) * 1000,
      },
    },
    http: {
      connections: counts('connections', [1, 32, 128], [8]),
      modes,
      warmupRequests: values.quick ? 20 : 300,
      minRequests: values.quick ? 50 : 2000,
      requestsPerConnection: values.quick ? 10 : 30,
    },
    scale: scaleSizes({
      quick: values.quick,
      sessions: values['scale-sessions'] === undefined ? undefined : count('scale-sessions'),
      serverSessions: values['scale-server-sessions'] === undefined ? undefined : count('scale-server-sessions'),
    }),
    accessIterations: values.quick ? 1e6 : 1e7,
    serializerIterations: values.quick ? 2000 : 20_000,
    only: list(values.only),
    parts,
    results: values.results,
    // Generous: a hung child (a lock never released) is killed and reported, not waited for.
    timeoutMs: values.quick ? 60_000 : 300_000,
  };
}

const progress = (line) => process.stderr.write(`${line}\n`);
const describe = (answer) => answer.result ? 'ok' : answer.unavailable ? `not available: ${answer.unavailable}` : `error: ${answer.error.split('\n')[0]}`;

function perlVersion() {
  try {
    return execFileSync('perl', ['-e', 'print substr($^V, 1)'], { encoding: 'utf8' });
  } catch {
    return undefined;
  }
}

/** Interleaved rounds: A B C … A B C …, each run a fresh process. */
async function cycleRounds(targets, options, taskOptions, unavailable) {
  const roundsById = new Map(targets.map((t) => [t.id, []]));
  for (let round = 0; round < options.rounds; round++) {
    for (const target of targets) {
      if (unavailable.has(target.id)) {
        roundsById.get(target.id)[round] = { unavailable: unavailable.get(target.id) };
        continue;
      }
      const answer = await runTask(target, { op: 'cycle', cycles: options.cycles, warmup: options.warmup }, taskOptions);
      if (answer.unavailable) unavailable.set(target.id, answer.unavailable);
      roundsById.get(target.id)[round] = answer;
      const figure = answer.result ? `${Math.round(answer.result.cyclesPerSecond)} cycles/s` : describe(answer);
      progress(`cycle  round ${round + 1}/${options.rounds}  ${target.id.padEnd(15)} ${figure}`);
    }
  }
  return roundsById;
}

async function lostUpdateRuns(targets, options, taskOptions, unavailable) {
  const outcomes = new Map();
  for (const target of targets) {
    const answer = unavailable.has(target.id)
      ? { unavailable: unavailable.get(target.id) }
      : await lostUpdates(target, options.increments, taskOptions);
    if (answer.unavailable) unavailable.set(target.id, answer.unavailable);
    outcomes.set(target.id, answer);
    progress(`lost updates  ${target.id.padEnd(15)} ${answer.result ? `${answer.result.final} / ${answer.result.expected}` : describe(answer)}`);
  }
  return outcomes;
}

async function main() {
  let options;
  let targets;
  try {
    options = readOptions();
    targets = selectTargets(options.only);
  } catch (error) {
    console.error(`${error.message} (node bench/run.mjs --help)`);
    process.exitCode = 2;
    return;
  }
  const runId = process.pid;
  const baseDir = join(os.tmpdir(), `tied-bench-${runId}`);
  const taskOptions = { runId, baseDir, timeoutMs: options.timeoutMs };
  const unavailable = new Map();
  for (const target of targets.filter((t) => t.runtime === 'perl')) {
    const missing = await perlMissing(target);
    if (missing) unavailable.set(target.id, missing);
  }

  const meta = {
    date: new Date().toISOString(),
    node: process.version,
    perl: perlVersion(),
    os: `${os.type()} ${os.release()}`,
    cpu: os.cpus()[0]?.model ?? 'unknown CPU',
    cores: os.cpus().length,
    options,
  };
  const report = { meta, targets };
  try {
    if (options.parts.includes('cycle')) {
      const roundsById = await cycleRounds(targets, options, taskOptions, unavailable);
      report.summaries = new Map(targets.map((t) => [t.id, summarizeTarget(roundsById.get(t.id))]));
      report.ratioRows = ratios(targets, roundsById);
      report.rounds = roundsById;
    }
    if (options.parts.includes('lost-updates')) {
      report.lostUpdates = await lostUpdateRuns(targets, options, taskOptions, unavailable);
    }
    if (options.parts.includes('concurrency')) {
      report.concurrency = await concurrencyRuns(targets, options, taskOptions, unavailable, progress);
    }
    if (options.parts.includes('http')) {
      const backends = BACKENDS.filter((backend) => targets.some((t) => t.backend === backend && t.concurrency));
      report.http = await httpRuns(backends, options, taskOptions, progress);
    }
    if (options.parts.includes('micro')) {
      report.micro = await runMicro({ accessIterations: options.accessIterations, serializerIterations: options.serializerIterations }, taskOptions);
      progress(`micro  ${describe(report.micro)}`);
    }
    if (options.parts.includes('scale')) {
      const backends = BACKENDS.filter((backend) => targets.some((t) => t.backend === backend));
      report.scale = await scaleRuns(backends, options.scale, { dir: join(baseDir, 'scale'), timeoutMs: options.quick ? 120_000 : 3_600_000 });
    }
  } finally {
    await Promise.all(targets.filter((t) => !unavailable.has(t.id)).map((t) => runTask(t, { op: 'drop' }, taskOptions)));
    await rm(baseDir, { recursive: true, force: true });
  }

  await mkdir(options.results, { recursive: true });
  const stamp = meta.date.replace(/[:.]/g, '-');
  const files = { json: join(options.results, `bench-${stamp}.json`) };
  const machine = `${meta.cpu} × ${meta.cores}, Node ${meta.node}`;
  const charts = [
    report.summaries && ['svg', 'cycles', cycleChart({ targets, summaries: report.summaries, backends: BACKENDS, title: `tied benchmark: sequential cycles/s, median of ${options.rounds} round(s) — ${machine}` })],
    report.concurrency && ['concurrencySvg', 'concurrency', concurrencyChart({ rows: report.concurrency, title: `tied benchmark: concurrency, cycles/s in one process — ${machine}` })],
    report.http && ['httpSvg', 'http', httpChart({ rows: report.http, title: `tied benchmark: HTTP (Express, autocannon), requests/s — ${machine}` })],
  ].filter(Boolean);
  for (const [key, name, svg] of charts) {
    files[key] = join(options.results, `bench-${stamp}-${name}.svg`);
    await writeFile(files[key], svg);
  }
  await writeFile(files.json, `${JSON.stringify(report, mapsAsObjects, 2)}\n`);
  // A full run (every target, every part, full sizes) also leaves its charts as
  // bench/results/latest-<name>.svg, the files bench/README.md shows (committed, not git-ignored).
  const fullRun = !options.quick && options.only.length === 0 && PARTS.every((part) => options.parts.includes(part))
    && options.http.modes.length === HTTP_MODES.length && options.results === DEFAULT_RESULTS;
  if (fullRun) {
    for (const [key, name] of charts) await copyFile(files[key], join(options.results, `latest-${name}.svg`));
  }
  const shown = Object.fromEntries(Object.entries(files).map(([kind, path]) => [kind, relative(process.cwd(), path)]));
  process.stdout.write(markdownReport({ ...report, files: shown }));

  // A tied flavor that loses an update is a bug, like a target that fails; peers lose them by design.
  const failed = [...(report.summaries?.values() ?? [])].some((s) => s.status === 'error' || s.errors?.length > 0)
    || [...(report.lostUpdates?.values() ?? [])].some((answer) => answer.error)
    || targets.some((t) => t.kind === 'tied' && report.lostUpdates?.get(t.id)?.result?.lost > 0)
    || (report.concurrency ?? []).some((row) => row.tied?.answer?.error || row.tied?.answer?.result?.lost > 0 || row.tied?.answer?.result?.stalled)
    || (report.http ?? []).some((row) => row.tied?.error || row.tied?.result?.lost > 0)
    || Boolean(report.micro?.error)
    || (report.scale ?? []).some((row) => row.answer.error || scaleCountProblems(row).length > 0);
  if (failed) process.exitCode = 1;
}

function mapsAsObjects(_key, value) {
  return value instanceof Map ? Object.fromEntries(value) : value;
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 2;
});
