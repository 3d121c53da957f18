/**
 * The cycle results as an SVG, written by hand: one panel per backend (each with its own scale, as
 * memory and MySQL differ by orders of magnitude), one bar per target at its median cycles/s,
 * coloured by kind, with a whisker from the slowest to the fastest round.
 */
const COLORS = { tied: '#2563eb', floor: '#6b7280', peer: '#f59e0b', perl: '#7c3aed', express: '#f59e0b' };
const KIND_NAMES = { tied: 'tied', floor: 'raw-driver floor', peer: 'express-session store', perl: 'Perl Apache::Session' };

const WIDTH = 1080;
const LABEL_WIDTH = 480;
const BAR_LEFT = LABEL_WIDTH + 10;
const BAR_RIGHT = WIDTH - 110;
const BAR_HEIGHT = 18;
const ROW = 26;
const PANEL_TOP = 30;

const escape = (text) => String(text).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
const number = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

/** A round axis maximum: 1, 2 or 5 times a power of ten. */
function niceMax(value) {
  if (!(value > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  return [1, 2, 5, 10].map((m) => m * power).find((candidate) => candidate >= value);
}

function panel(backend, bars, top, unit = 'cycles/s') {
  const scaleMax = niceMax(Math.max(...bars.map((b) => b.summary.max)));
  const x = (value) => BAR_LEFT + ((BAR_RIGHT - BAR_LEFT) * value) / scaleMax;
  const parts = [
    `<text x="10" y="${top + 18}" class="panel">${escape(backend)}</text>`,
    `<text x="${BAR_RIGHT}" y="${top + 18}" class="axis" text-anchor="end">0 – ${number.format(scaleMax)} ${unit}</text>`,
  ];
  bars.forEach(({ target, summary }, index) => {
    const y = top + PANEL_TOP + index * ROW;
    const middle = y + BAR_HEIGHT / 2;
    parts.push(
      `<text x="${LABEL_WIDTH}" y="${middle + 4}" text-anchor="end">${escape(target.label)}</text>`,
      `<rect x="${BAR_LEFT}" y="${y}" width="${(x(summary.median) - BAR_LEFT).toFixed(1)}" height="${BAR_HEIGHT}" fill="${COLORS[target.kind]}"/>`,
      `<line x1="${x(summary.min).toFixed(1)}" x2="${x(summary.max).toFixed(1)}" y1="${middle}" y2="${middle}" class="whisker"/>`,
      `<text x="${(x(summary.max) + 6).toFixed(1)}" y="${middle + 4}">${number.format(summary.median)}</text>`,
    );
  });
  return { svg: parts.join('\n'), height: PANEL_TOP + bars.length * ROW + 16 };
}

/** An SVG of panels, each { name, bars: [{ target: { label, kind }, summary: { median, min, max } }] }. */
function chart(panels, { title, unit, kindNames }) {
  const pieces = [];
  let top = 60;
  for (const { name, bars } of panels) {
    if (bars.length === 0) continue;
    const { svg, height } = panel(name, bars, top, unit);
    pieces.push(svg);
    top += height;
  }
  const legend = Object.entries(kindNames).map(([kind, name], index) => {
    const x = 10 + index * 200;
    return `<rect x="${x}" y="34" width="12" height="12" fill="${COLORS[kind]}"/><text x="${x + 18}" y="45">${escape(name)}</text>`;
  });
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${top + 10}" viewBox="0 0 ${WIDTH} ${top + 10}" font-family="system-ui, sans-serif" font-size="12">`,
    '<style>.panel{font-weight:bold;font-size:14px}.axis{fill:#6b7280}.whisker{stroke:#111;stroke-width:1.5}.title{font-weight:bold;font-size:15px}</style>',
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="10" y="20" class="title">${escape(title)}</text>`,
    ...legend,
    ...pieces,
    '</svg>',
    '',
  ].join('\n');
}

export function cycleChart({ targets, summaries, backends, title }) {
  const panels = backends.map((backend) => ({
    name: backend,
    bars: targets
      .filter((t) => t.backend === backend && summaries.get(t.id)?.status === 'ok')
      .map((target) => ({ target, summary: summaries.get(target.id) })),
  }));
  return chart(panels, { title, unit: 'cycles/s', kindNames: KIND_NAMES });
}

const single = (value) => ({ median: value, min: value, max: value });

/** The concurrency workload: per backend, tied and its peer at each workers × app time point. */
export function concurrencyChart({ rows, title }) {
  const backends = [...new Set(rows.map((row) => row.backend))];
  const panels = backends.map((backend) => ({
    name: `${backend} — C workers, app time`,
    bars: rows.filter((row) => row.backend === backend).flatMap((row) => ['tied', 'peer']
      .filter((side) => row[side]?.answer?.result && !row[side].answer.result.stalled && !(side === 'peer' && row.repeatsPeer))
      .map((side) => ({
        target: { label: `C = ${row.workers}, ${row.appMs} ms — ${side === 'tied' ? row.variant ?? 'tied' : 'express-session store'}`, kind: side },
        summary: single(row[side].answer.result.cyclesPerSecond),
      }))),
  }));
  return chart(panels, { title, unit: 'cycles/s', kindNames: { tied: 'tied', peer: 'express-session store' } });
}

const MODE_NAMES = { shared: 'connections sharing one session', own: 'a session per connection' };

/** The HTTP benchmark: per mode and backend, @tied/http and express-session at each connection count. */
export function httpChart({ rows, title }) {
  const panelKeys = [...new Set(rows.map((row) => `${row.mode} ${row.backend}`))];
  const panels = panelKeys.map((key) => ({
    name: `${key.split(' ')[1]} — ${MODE_NAMES[key.split(' ')[0]]}`,
    bars: rows.filter((row) => `${row.mode} ${row.backend}` === key).flatMap((row) => ['tied', 'express']
      .filter((side) => row[side]?.result)
      .map((side) => ({
        target: { label: `${row.connections} connection(s) — ${side === 'tied' ? '@tied/http' : 'express-session'}`, kind: side },
        summary: single(row[side].result.requestsPerSecond),
      }))),
  }));
  return chart(panels, { title, unit: 'requests/s', kindNames: { tied: '@tied/http', express: 'express-session' } });
}
