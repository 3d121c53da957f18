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

/**
 * One point: `connections` autocannon connections all sending GET /inc with the same session
 * cookie (made by a first request): `warmup` requests, then `amount` measured, every response
 * counted. The final count read back against the acknowledged (2xx) increments gives the lost updates.
 */
async function measurePoint(port, connections, amount, warmup) {
  const base = `http://127.0.0.1:${port}`;
  const first = await fetch(`${base}/inc`);
  const cookie = first.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
  if (!first.ok || !cookie) throw new Error(`the first request got ${first.status} and ${cookie ? 'a cookie' : 'no cookie'}`);
  const options = { url: `${base}/inc`, connections, headers: { cookie }, timeout: 30 };
  // autocannon refuses fewer requests than connections.
  const warm = warmup > 0 ? await cannon({ ...options, amount: Math.max(warmup, connections) }) : { '2xx': 0 };
  const result = await cannon({ ...options, amount: Math.max(amount, connections) });
  const counted = await fetch(`${base}/count`, { headers: { cookie } });
  const text = await counted.text();
  const final = Number(text);
  if (!counted.ok || !Number.isInteger(final)) throw new Error(`GET /count answered ${counted.status}: ${text.slice(0, 200)}`);
  const acknowledged = 1 + warm['2xx'] + result['2xx'];
  return {
    connections,
    requests: amount,
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

/**
 * The HTTP benchmark: per backend, per connection count, @tied/http then express-session, each
 * with a fresh server process. Rows { backend, connections, tied: answer, express: answer }.
 */
export async function httpRuns(backends, options, taskOptions, progress) {
  const rows = [];
  for (const backend of backends) {
    for (const connections of options.http.connections) {
      const row = { backend, connections };
      for (const { side } of HTTP_SIDES) {
        const namespace = namespaceOf({ id: `http-${side}-${backend}` }, taskOptions);
        const server = await startServer({ side, backend, namespace }, taskOptions.timeoutMs);
        let answer;
        if (server.port === undefined) {
          answer = server;
        } else {
          try {
            const amount = Math.max(options.http.minRequests, connections * options.http.requestsPerConnection);
            answer = { result: await measurePoint(server.port, connections, amount, options.http.warmupRequests) };
          } catch (error) {
            answer = { error: `${error.message}${server.stderr() ? `; server: ${server.stderr().trim().slice(-500)}` : ''}` };
          } finally {
            await server.stop();
          }
        }
        row[side] = answer;
        const r = answer.result;
        progress(`http  ${backend.padEnd(8)} ${side.padEnd(7)} ${String(connections).padStart(3)} conn  ${r
          ? `${Math.round(r.requestsPerSecond)} req/s p99 ${r.p99} ms lost ${r.lost}${r.non2xx ? ` non-2xx ${r.non2xx}` : ''}${r.errors ? ` errors ${r.errors}` : ''}`
          : answer.unavailable ? `not available: ${answer.unavailable}` : `error: ${answer.error.split('\n')[0]}`}`);
      }
      rows.push(row);
    }
  }
  return rows;
}
