import { CONCURRENCY_TARGETS, concurrencyVerdict } from './concurrency-runs.mjs';
import { sequentialVerdicts } from './goals.mjs';
import { HTTP_MODES, HTTP_SIDES } from './http-bench.mjs';
import { scaleTables, SCALE_GOALS } from './scale.mjs';

const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const fixed = (digits) => new Intl.NumberFormat('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

const perSecond = (value) => integer.format(value);
const ratio = (value) => `${fixed(2).format(value)}×`;
export const oneLine = (text) => String(text).split('\n')[0].replace(/\|/g, '\\|').slice(0, 160);

export function table(header, rows) {
  return [
    `| ${header.join(' | ')} |`,
    `|${header.map(() => '---').join('|')}|`,
    ...rows.map((row) => `| ${row.join(' | ')} |`),
  ].join('\n');
}

function notRun(summary) {
  return summary.status === 'unavailable' ? `not available: ${oneLine(summary.reason)}` : `error: ${oneLine(summary.reason)}`;
}

function cycleTable(targets, summaries) {
  const rows = targets.map((t) => {
    const s = summaries.get(t.id);
    if (s.status !== 'ok') return [t.backend, t.kind, t.label, notRun(s), '', '', ''];
    const failed = s.errors.length > 0 ? ` (${s.errors.length} round(s) failed)` : '';
    const cpu = s.cpuUsPerCycle === undefined ? '—' : fixed(1).format(s.cpuUsPerCycle);
    return [t.backend, t.kind, t.label, perSecond(s.median) + failed, `${perSecond(s.min)}–${perSecond(s.max)}`, fixed(1).format(1e6 / s.median), cpu];
  });
  return table(['backend', 'kind', 'target', 'cycles/s (median)', 'min–max', 'µs/cycle', 'client CPU µs/cycle'], rows);
}

function ratioTable(targets, ratioRows) {
  const label = (id) => targets.find((t) => t.id === id).label;
  const rows = targets.filter((t) => t.kind === 'tied').flatMap((t) => {
    const mine = ratioRows.filter((r) => r.tied === t.id);
    if (mine.length === 0) return [];
    const cell = (kind) => mine.filter((r) => r.kind === kind)
      .map((r) => `${ratio(r.median)} (${ratio(r.min)}–${ratio(r.max)})`).join(', ') || '—';
    return [[t.backend, t.label, cell('floor'), cell('peer'), cell('perl')]];
  });
  if (rows.length === 0) return '_No tied flavor ran next to another target._';
  const against = (kind) => [...new Set(ratioRows.filter((r) => r.kind === kind).map((r) => label(r.other)))];
  return [
    table(['backend', 'tied flavor', '÷ floor', '÷ peer', '÷ Perl'], rows),
    '',
    `Floors: ${against('floor').join('; ') || '—'}. Peers: ${against('peer').join('; ') || '—'}. Perl: ${against('perl').join('; ') || '—'}.`,
  ].join('\n');
}

function lostUpdateTable(targets, outcomes) {
  const rows = targets.filter((t) => outcomes.has(t.id)).map((t) => {
    const o = outcomes.get(t.id);
    if (!o.result) return [t.backend, t.kind, t.label, o.unavailable ? `not available: ${oneLine(o.unavailable)}` : `error: ${oneLine(o.error)}`, ''];
    return [t.backend, t.kind, t.label, `${o.result.final} / ${o.result.expected}`, String(o.result.lost)];
  });
  return table(['backend', 'kind', 'target', 'final count', 'lost updates'], rows);
}

function sequentialGoalTable(targets, ratioRows) {
  const label = (id) => targets.find((t) => t.id === id).label;
  const rows = sequentialVerdicts(targets, ratioRows).map((v) => [
    label(v.tied),
    label(v.other),
    `≥ ${ratio(v.least)}`,
    v.row ? `${ratio(v.row.median)} (${ratio(v.row.min)}–${ratio(v.row.max)})` : '—',
    v.status === 'MET' ? '**MET**' : v.status === 'MISSED' ? '**MISSED**' : v.status,
  ]);
  if (rows.length === 0) return '_No target pair of the goals was selected._';
  return table(['tied flavor', 'against', 'goal', 'measured (median, min–max)', ''], rows);
}

const ms = (value) => (value === undefined ? '—' : fixed(value < 10 ? 2 : 1).format(value));

function concurrencyCell(side) {
  const answer = side?.answer;
  if (!answer) return ['—', '—', '—', '—', '—'];
  if (!answer.result) return [answer.unavailable ? `not available: ${oneLine(answer.unavailable)}` : `error: ${oneLine(answer.error)}`, '', '', '', ''];
  const r = answer.result;
  const lost = r.stalled ? `**stall** (${fixed(0).format(r.stallMs / 1000)} s)` : String(r.lost);
  const cpu = r.cpuUsPerCycle === undefined ? '—' : fixed(1).format(r.cpuUsPerCycle);
  return [perSecond(r.cyclesPerSecond) + (r.errors ? ` (${r.errors} failed)` : ''), ms(r.p50), ms(r.p99), cpu, lost];
}

function concurrencyTable(rows) {
  const body = rows.map((row) => {
    const verdict = concurrencyVerdict(row);
    const tied = row.tied?.answer?.result;
    const peer = row.peer?.answer?.result;
    const ratios = tied && peer ? [ratio(tied.cyclesPerSecond / peer.cyclesPerSecond), ratio(tied.p99 / peer.p99)] : ['—', '—'];
    const status = verdict.status === 'MET' ? '**MET**' : verdict.status === 'MISSED' ? `**MISSED**: ${verdict.reasons.join('; ')}` : verdict.status;
    const redis = verdict.redisPerProcess ? `; Redis per process (≥ ${ratio(CONCURRENCY_TARGETS.redisAt128)} at C = 128): **${verdict.redisPerProcess}**` : '';
    return [row.variant ? `${row.backend} (${row.variant})` : row.backend, String(row.workers), String(row.appMs), ...concurrencyCell(row.tied), ...concurrencyCell(row.peer), ...ratios, status + redis];
  });
  return table(['backend', 'C', 'app ms', 'tied cycles/s', 'p50 ms', 'p99 ms', 'CPU µs/cycle', 'lost', 'peer cycles/s', 'p50 ms', 'p99 ms', 'CPU µs/cycle', 'lost', 'throughput ÷ peer', 'p99 ÷ peer', `target (≥ ${CONCURRENCY_TARGETS.throughput}×, ≤ ${CONCURRENCY_TARGETS.p99}× p99, 0 lost, no stall)`], body);
}

function httpCell(answer) {
  if (!answer) return ['—', '—', '—'];
  if (!answer.result) return [answer.unavailable ? `not available: ${oneLine(answer.unavailable)}` : `error: ${oneLine(answer.error)}`, '', ''];
  const r = answer.result;
  const failed = r.non2xx + r.errors;
  return [perSecond(r.requestsPerSecond) + (failed ? ` (${failed} failed)` : ''), String(r.p99), `${r.lost} / ${r.acknowledged}`];
}

const HTTP_MODE_TITLES = {
  shared: 'All connections share one session (the lost-update case)',
  own: 'Each connection its own session (many users)',
};

function httpTables(rows) {
  const header = HTTP_SIDES.flatMap(({ label }) => [`${label} req/s`, 'p99 ms', 'lost / acknowledged']);
  return HTTP_MODES.filter((mode) => rows.some((row) => row.mode === mode)).map((mode) => {
    const body = rows.filter((row) => row.mode === mode).map((row) => {
      const tied = row.tied?.result;
      const peer = row.express?.result;
      const ratios = tied && peer ? [ratio(tied.requestsPerSecond / peer.requestsPerSecond), ratio(tied.p99 / peer.p99)] : ['—', '—'];
      return [row.backend, String(row.connections), ...HTTP_SIDES.flatMap(({ side }) => httpCell(row[side])), ...ratios];
    });
    return [`**${HTTP_MODE_TITLES[mode]}**`, '', table(['backend', 'connections', ...header, 'req/s ÷', 'p99 ÷'], body)].join('\n');
  }).join('\n\n');
}

function microTables(micro) {
  if (micro.error || micro.unavailable) return `error: ${oneLine(micro.error ?? micro.unavailable)}`;
  const { access, serializers } = micro.result;
  const accessRows = [
    ['get', fixed(1).format(access.getProxy), fixed(1).format(access.getPlain), `${fixed(0).format(access.getProxy / access.getPlain)}×`],
    ['set', fixed(1).format(access.setProxy), fixed(1).format(access.setPlain), `${fixed(0).format(access.setProxy / access.setPlain)}×`],
  ];
  const serializerRows = Object.entries(serializers).map(([name, s]) => (s.unavailable
    ? [name, `not available: ${oneLine(s.unavailable)}`, '', '']
    : [name, fixed(2).format(s.serializeUs), fixed(2).format(s.unserializeUs), String(s.bytes)]));
  return [
    table(['top-level property', 'tied Proxy (ns/op)', 'plain object (ns/op)', 'Proxy ÷ plain'], accessRows),
    '',
    table(['serializer (cycle session)', 'serialize (µs)', 'unserialize (µs)', 'bytes'], serializerRows),
  ].join('\n');
}

/** The whole report as Markdown: what ran, the tables, where the raw data and the chart are. */
export function markdownReport({ meta, targets, summaries, ratioRows, lostUpdates, concurrency, http, micro, scale, files }) {
  const o = meta.options;
  const sections = [
    `# tied benchmark — ${meta.date}`,
    `${meta.cpu} × ${meta.cores}, ${meta.os}, Node ${meta.node}${meta.perl ? `, Perl ${meta.perl}` : ''}${o.quick ? ' — **quick mode: a smoke check, not figures to quote**' : ''}`,
  ];
  if (summaries) {
    sections.push(
      '## Cycle workload',
      `${o.cycles} cycles (after ${o.warmup} warm-up cycles) over ${o.sessions} sessions — open, count++, last = i, release — in ${o.rounds} interleaved round(s), each run a fresh process. Higher is better.`,
      cycleTable(targets, summaries),
      '## Ratios',
      'tied ÷ other, cycles/s of the same round, median (min–max) over rounds; above 1× tied is faster.',
      ratioTable(targets, ratioRows),
      '## Sequential targets',
      'Issue 13: every server backend ≥ 0.95× its floor and ≥ 1.0× its express-session store; MySQL ≥ 1.25× Perl; memory ≥ 1.0× MemoryStore; file ≥ 5× Apache::Session::File. Ratios as above.',
      sequentialGoalTable(targets, ratioRows),
    );
  }
  if (lostUpdates) {
    sections.push(
      '## Lost updates',
      `${o.workers} processes × ${o.increments} increments of one session (in-memory targets: ${o.workers} concurrent async loops in one process).`,
      lostUpdateTable(targets, lostUpdates),
    );
  }
  if (concurrency) {
    const c = o.concurrency;
    sections.push(
      '## Concurrency',
      `C async workers in one process, each cycling a random session out of ${c.sizes.sessions} (open, count++, app time, release), ${c.sizes.warmupMs / 1000} s warm-up then ${c.sizes.measureMs / 1000} s measured; the drivers' default pool sizes on both sides; latency from open to release, app time included. Lost = increments acknowledged − increments stored. A run with no cycle ending for ${c.sizes.stallMs / 1000} s is a stall. Peer = the express-session store of the same backend through its Store API (get, app time, set).`,
      concurrencyTable(concurrency),
    );
  }
  if (http) {
    const h = o.http;
    sections.push(
      '## HTTP',
      `Express 5, GET /inc (count++ in the session), under autocannon; the sessions are made by a first request each, their cookies pre-set; ${h.warmupRequests} warm-up requests, then max(${h.minRequests}, ${h.requestsPerConnection} × connections) measured; each point in a fresh server process. Lost = increments acknowledged (2xx) − the final counts. ÷: @tied/http over express-session.`,
      httpTables(http),
    );
  }
  if (micro) sections.push('## Micro', microTables(micro));
  if (scale) {
    sections.push(
      '## Scale',
      `Issue 13: open latency with the file store's full count within ${SCALE_GOALS.openRatio}× of with 1,000 sessions; its purge with progress at ≥ ${SCALE_GOALS.purgePerSecond.toLocaleString('en-US')} sessions/s; the memory of as many MemorySessions; on each server, list and purge batched with no request above ${SCALE_GOALS.stallMs} ms meanwhile. Each backend in a fresh process; sessions made by the flavor itself (open, assign, release); the expired ones written before a cutoff, the live ones after it, and purge must remove exactly the expired ones.`,
      scaleTables(scale),
    );
  }
  if (files) {
    const charts = [files.svg, files.concurrencySvg, files.httpSvg].filter(Boolean);
    sections.push(`Raw results: ${files.json}${charts.length > 0 ? `; charts: ${charts.join(', ')}` : ''}`);
  }
  return `${sections.join('\n\n')}\n`;
}

