import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import autocannon from 'autocannon';
import { namespaceOf } from './spawn.mjs';

const SERVER = fileURLToPath(new URL('../http/server.mjs', import.meta.url));
export const HTTP_SIDES = [
  { side: 'tied', label: '@tied/http' },
  { side: 'express', label: 'express-session' },
];

/** Starts the bench app in a child process; resolves to { port, stop } or { unavailable } / { error }. */
async function startServer(spec, timeoutMs) {
  const child = spawn(process.execPath, [SERVER, JSON.stringify(spec)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk) => { stderr = (stderr + chunk).slice(-4000); });
  const exited = once(child, 'exit');
  const lines = createInterface({ input: child.stdout });
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const [line] = await Promise.race([once(lines, 'line'), exited.then(() => [undefined])]);
  clearTimeout(timer);
  let answer;
  try {
    answer = JSON.parse(line);
  } catch {
    child.kill('SIGKILL');
    return { error: `the ${spec.side} ${spec.backend} server did not start: ${stderr.trim() || line || 'no output'}` };
  }
  if (answer.port === undefined) return answer;
  const stop = async () => {
    const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.kill('SIGTERM');
    await exited;
    clearTimeout(killer);
  };
  return { port: answer.port, stop, stderr: () => stderr };
}

/**
 * autocannon with `amount` requests; the time is taken to the last response, as autocannon's own
 * `duration` only ends on its next one-second tick.
 */
function cannon(options) {
  const started = performance.now();
  let lastResponse = started;
  return new Promise((resolve, reject) => {
    const instance = autocannon(options, (error, result) => (error ? reject(error) : resolve({ ...result, seconds: (lastResponse - started) / 1000 })));
    instance.on('response', () => { lastResponse = performance.now(); });
  });
}

/** GET /inc without a cookie: a new session; its cookie as a Cookie header value. */
async function newSession(base) {
  const first = await fetch(`${base}/inc`);
  await first.text();
  const cookie = first.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
  if (!first.ok || !cookie) throw new Error(`the first request got ${first.status} and ${cookie ? 'a cookie' : 'no cookie'}`);
  return cookie;
}

async function countOf(base, cookie) {
  const counted = await fetch(`${base}/count`, { headers: { cookie } });
  const text = await counted.text();
  const count = Number(text);
  if (!counted.ok || !Number.isInteger(count)) throw new Error(`GET /count answered ${counted.status}: ${text.slice(0, 200)}`);
  return count;
}

/**
 * One point: `connections` autocannon connections sending GET /inc, `warmup` requests then
 * `amount` measured (autocannon's `amount`, so every response is counted). `shared`: every
 * connection sends the same session cookie (the lost-update case); `own`: each connection its own
 * session (a site's many users). Sessions are made first by a request each; afterwards the final
 * counts read back against the acknowledged (2xx) increments give the lost updates.
 */
async function measurePoint(port, { connections, amount, warmup, mode }) {
  const base = `http://127.0.0.1:${port}`;
  const cookies = [];
  for (let k = 0; k < (mode === 'shared' ? 1 : connections); k++) cookies.push(await newSession(base));
  let next = 0;
  const options = {
    url: `${base}/inc`,
    connections,
    timeout: 30,
    setupClient: (client) => { client.setHeaders({ cookie: cookies[next++ % cookies.length] }); },
  };
  // autocannon refuses fewer requests than connections.
  const warm = warmup > 0 ? await cannon({ ...options, amount: Math.max(warmup, connections) }) : { '2xx': 0 };
  const result = await cannon({ ...options, amount: Math.max(amount, connections) });
  let final = 0;
  for (const cookie of cookies) final += await countOf(base, cookie);
  const acknowledged = cookies.length + warm['2xx'] + result['2xx'];
  return {
    mode,
    connections,
    sessions: cookies.length,
    requests: result['2xx'] + result.non2xx,
    requestsPerSecond: result['2xx'] / result.seconds,
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    acknowledged,
    final,
    lost: acknowledged - final,
  };
}

export const HTTP_MODES = ['shared', 'own'];

/**
 * The HTTP benchmark: per mode (one shared session, a session per connection), backend and
 * connection count, @tied/http then express-session, each with a fresh server process.
 * Rows { mode, backend, connections, tied: answer, express: answer }.
 */
export async function httpRuns(backends, options, taskOptions, progress) {
  const rows = [];
  for (const mode of options.http.modes) {
    for (const backend of backends) {
      for (const connections of options.http.connections) {
        const row = { mode, backend, connections };
        for (const { side } of HTTP_SIDES) {
          row[side] = await httpPoint({ side, backend, mode, connections }, options, taskOptions);
          progressLine(row[side], { side, backend, mode, connections }, progress);
        }
        rows.push(row);
      }
    }
  }
  return rows;
}

async function httpPoint({ side, backend, mode, connections }, options, taskOptions) {
  const namespace = namespaceOf({ id: `http-${side}-${backend}` }, taskOptions);
  const server = await startServer({ side, backend, namespace }, taskOptions.timeoutMs);
  if (server.port === undefined) return server;
  try {
    const amount = Math.max(options.http.minRequests, connections * options.http.requestsPerConnection);
    return { result: await measurePoint(server.port, { connections, amount, warmup: options.http.warmupRequests, mode }) };
  } catch (error) {
    return { error: `${error.message}${server.stderr() ? `; server: ${server.stderr().trim().slice(-500)}` : ''}` };
  } finally {
    await server.stop();
  }
}

function progressLine(answer, { side, backend, mode, connections }, progress) {
  const r = answer.result;
  const figure = r
    ? `${Math.round(r.requestsPerSecond)} req/s p99 ${r.p99} ms lost ${r.lost}${r.non2xx ? ` non-2xx ${r.non2xx}` : ''}${r.errors ? ` errors ${r.errors}` : ''}`
    : answer.unavailable ? `not available: ${answer.unavailable}` : `error: ${answer.error.split('\n')[0]}`;
  progress(`http  ${mode.padEnd(6)} ${backend.padEnd(8)} ${side.padEnd(7)} ${String(connections).padStart(3)} conn  ${figure}`);
}
