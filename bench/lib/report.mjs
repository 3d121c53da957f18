const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const fixed = (digits) => new Intl.NumberFormat('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

const perSecond = (value) => integer.format(value);
const ratio = (value) => `${fixed(2).format(value)}×`;
const oneLine = (text) => String(text).split('\n')[0].replace(/\|/g, '\\|').slice(0, 160);

function table(header, rows) {
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
    if (s.status !== 'ok') return [t.backend, t.kind, t.label, notRun(s), '', ''];
    const failed = s.errors.length > 0 ? ` (${s.errors.length} round(s) failed)` : '';
    return [t.backend, t.kind, t.label, perSecond(s.median) + failed, `${perSecond(s.min)}–${perSecond(s.max)}`, fixed(1).format(1e6 / s.median)];
  });
  return table(['backend', 'kind', 'target', 'cycles/s (median)', 'min–max', 'µs/cycle'], rows);
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
export function markdownReport({ meta, targets, summaries, ratioRows, lostUpdates, micro, files }) {
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
    );
  }
  if (lostUpdates) {
    sections.push(
      '## Lost updates',
      `${o.workers} processes × ${o.increments} increments of one session (in-memory targets: ${o.workers} concurrent async loops in one process).`,
      lostUpdateTable(targets, lostUpdates),
    );
  }
  if (micro) sections.push('## Micro', microTables(micro));
  if (files) sections.push(`Raw results: ${files.json}${files.svg ? `; chart: ${files.svg}` : ''}`);
  return `${sections.join('\n\n')}\n`;
}

