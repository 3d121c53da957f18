/**
 * The scale part of `npm run bench` (issue 13, deliverable 6): 1,000,000 sessions in the file store —
 * open latency against 1,000, purge with progress — the memory of 1,000,000 MemorySessions, and
 * 100,000 sessions on each server backend, listed and purged while a stream of requests is timed.
 * Each backend runs in a fresh process (scale-child.mjs).
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { oneLine, table } from './report.mjs';

export const SCALE_GOALS = {
  /** Open latency (median) with the large count ÷ with 1,000 sessions, at most. */
  openRatio: 1.2,
  /** File-store purge, sessions removed per second, at least. */
  purgePerSecond: 20_000,
  /** No request slower than this (ms) while list or purge runs on a server backend. */
  stallMs: 100,
};

export const SCALE_BACKENDS = ['memory', 'file', 'mysql', 'postgres', 'redis'];

const CHILD = fileURLToPath(new URL('./scale-child.mjs', import.meta.url));

/** The issue's sizes, or a few thousand sessions for a smoke check. */
export function scaleSizes({ quick, sessions, serverSessions }) {
  const local = sessions ?? (quick ? 2000 : 1_000_000);
  return {
    file: { count: local, small: Math.min(1000, local), live: quick ? 100 : 1000, samples: quick ? 2000 : 20_000 },
    memory: { count: local, live: quick ? 100 : 1000 },
    server: { count: serverSessions ?? (quick ? 1000 : 100_000), live: quick ? 50 : 1000 },
  };
}

/** Runs each backend in its own process; `dir` is where the file store's sessions go (removed after). */
export async function scaleRuns(backends, sizes, { dir, timeoutMs }) {
  const rows = [];
  for (const backend of SCALE_BACKENDS.filter((b) => backends.includes(b))) {
    const answer = await runChild({ backend, sizes, dir }, timeoutMs);
    rows.push({ backend, sizes: backend === 'file' ? sizes.file : backend === 'memory' ? sizes.memory : sizes.server, answer });
  }
  return rows;
}

/** The child's answer; its stderr (progress) goes through to ours as it comes. Never throws. */
function runChild(task, timeoutMs) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--expose-gc', CHILD, JSON.stringify(task)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderrTail = '';
    child.stdout.on('data', (chunk) => { stdout += chunk; });
    child.stderr.on('data', (chunk) => {
      process.stderr.write(chunk);
      stderrTail = (stderrTail + chunk).slice(-2000);
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      resolve({ error: `scale ${task.backend}: ${error.message}` });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(stdout.trim().split('\n').pop()));
      } catch {
        resolve({ error: `scale ${task.backend}: ${signal ? `killed (${signal}) after ${timeoutMs} ms` : `exited with ${code}`}: ${stderrTail.trim()}` });
      }
    });
  });
}

/** What a run's counts got wrong: an expired session left, a live one removed, a request that failed. */
export function scaleCountProblems({ backend, sizes, answer }) {
  const r = answer.result;
  if (!r) return [];
  const problems = [];
  const removed = r.purging?.removed ?? r.removed;
  if (removed !== sizes.count) problems.push(`purge removed ${removed} of ${sizes.count} expired sessions`);
  if (r.liveKept !== r.live) problems.push(`${r.live - r.liveKept} of ${r.live} live sessions removed`);
  if (r.remaining !== r.live) problems.push(`${r.remaining} sessions left, ${r.live} expected`);
  if (backend === 'file' && r.listed !== sizes.count + r.live) problems.push(`list gave ${r.listed} of ${sizes.count + r.live} sessions`);
  if (r.listing && r.listing.listed !== sizes.count + r.live) problems.push(`list gave ${r.listing.listed} of ${sizes.count + r.live} sessions`);
  for (const phase of ['baseline', 'listing', 'purging']) {
    const stream = r[phase]?.stream;
    if (stream?.errors) problems.push(`${stream.errors} request(s) failed during ${phase}: ${stream.firstError}`);
  }
  return problems;
}

/** The goals of one row, each { goal, measured, status, reasons }. */
export function scaleVerdicts(row) {
  const { backend, sizes, answer } = row;
  const r = answer.result;
  if (!r) return [{ goal: goalOf(backend, sizes), measured: answer.unavailable ? `not available: ${oneLine(answer.unavailable)}` : `error: ${oneLine(answer.error)}`, status: answer.unavailable ? 'not measured' : 'MISSED', reasons: [] }];
  const counts = scaleCountProblems(row);
  const verdict = (goal, measured, misses) => {
    const reasons = [...misses, ...counts];
    return { goal, measured, status: reasons.length === 0 ? 'MET' : 'MISSED', reasons };
  };
  if (backend === 'memory') {
    const measured = `${integer(r.bytesPerSession)} bytes per session (heap + external; RSS ${integer(r.rssPerSession)}), ${integer(r.createPerSecond)} created/s; purge ${integer(r.purgePerSecond)}/s`;
    return [{ ...verdict(goalOf(backend, sizes), measured, []), status: counts.length === 0 ? 'reported' : 'MISSED' }];
  }
  if (backend === 'file') {
    const ratio = r.openLarge.p50 / r.openSmall.p50;
    const open = verdict(
      `open latency with ${integer(sizes.count)} sessions within ${SCALE_GOALS.openRatio}× of with ${integer(sizes.small)} (median)`,
      `${us(r.openLarge.p50)} µs vs ${us(r.openSmall.p50)} µs: **${ratio.toFixed(2)}×** (p99 ${us(r.openLarge.p99)} vs ${us(r.openSmall.p99)} µs)`,
      ratio <= SCALE_GOALS.openRatio ? [] : [`${ratio.toFixed(2)}× the median`],
    );
    const purge = verdict(
      `purge of ${integer(sizes.count)} expired sessions, with progress, ≥ ${integer(SCALE_GOALS.purgePerSecond)}/s`,
      `**${integer(r.purgePerSecond)}/s** (${integer(r.removed)} in ${seconds(r.purgeMs)} s; ${integer(r.purgePerCpuSecond)} per CPU-second; floor lstat + unlink ${integer(r.floorPerSecond)}/s; ${integer(r.progressReports)} progress reports; ${r.liveKept} / ${r.live} live kept); list ${integer((r.listed / r.listMs) * 1000)}/s`,
      [...(r.purgePerSecond >= SCALE_GOALS.purgePerSecond ? [] : [`${integer(r.purgePerSecond)}/s`]), ...(r.progressReports > 0 ? [] : ['no progress reported'])],
    );
    return [open, purge];
  }
  const worst = Math.max(r.listing.stream.max, r.purging.stream.max);
  return [verdict(
    goalOf(backend, sizes),
    `list ${seconds(r.listing.ms)} s, purge ${seconds(r.purging.ms)} s (${r.purging.progressReports} batches); slowest request meanwhile **${ms(worst)} ms**`,
    [...(worst <= SCALE_GOALS.stallMs ? [] : [`a request took ${ms(worst)} ms`]), ...(r.purging.progressReports > 1 ? [] : ['purge reported no batches'])],
  )];
}

function goalOf(backend, sizes) {
  if (backend === 'memory') return `memory footprint of ${integer(sizes.count)} MemorySessions (reported)`;
  if (backend === 'file') return `${integer(sizes.count)} sessions in the file store`;
  return `${integer(sizes.count)} sessions: list and purge batched, no request above ${SCALE_GOALS.stallMs} ms meanwhile`;
}

/** The scale section of the report: the goals, then the server figures. */
export function scaleTables(rows) {
  const goals = rows.flatMap((row) => scaleVerdicts(row).map((v) => [
    row.backend, v.goal, v.measured,
    v.status === 'MET' || v.status === 'MISSED' ? `**${v.status}**${v.reasons.length > 0 ? `: ${v.reasons.join('; ')}` : ''}` : v.status,
  ]));
  const servers = rows.filter((row) => row.answer.result?.purging).map(({ backend, answer: { result: r } }) => [
    backend,
    integer(r.count + r.live),
    integer(r.createPerSecond),
    latency(r.baseline.stream),
    `${seconds(r.listing.ms)} (${integer((r.listing.listed / r.listing.ms) * 1000)}/s)`,
    latency(r.listing.stream),
    `${seconds(r.purging.ms)} (${integer(r.purging.purgePerSecond)}/s)`,
    String(r.purging.progressReports),
    latency(r.purging.stream),
    `${r.liveKept} / ${r.live}`,
  ]);
  const sections = [table(['backend', 'target', 'measured', 'verdict'], goals)];
  if (servers.length > 0) {
    sections.push(
      'Server backends: a stream of 4 async workers cycling the live sessions (open, count++, release) runs alone (baseline), during `list()` of every session, and during `Flavor.purge` of the expired ones; its p50 / p99 / max in ms.',
      table(['backend', 'sessions', 'written/s', 'baseline p50 / p99 / max', 'list s (sessions/s)', 'during list', 'purge s (sessions/s)', 'progress reports', 'during purge', 'live kept'], servers),
    );
  }
  return sections.join('\n\n');
}

const integerFormat = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const integer = (value) => integerFormat.format(value);
const us = (msValue) => (msValue * 1000).toFixed(1);
const ms = (value) => value.toFixed(value < 10 ? 2 : 1);
const seconds = (msValue) => (msValue / 1000).toFixed(msValue < 10_000 ? 2 : 1);
const latency = (stream) => (stream.n > 0 ? `${ms(stream.p50)} / ${ms(stream.p99)} / ${ms(stream.max)} (${integer(stream.n)} requests)` : 'no request ended');
