import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const fixture = fileURLToPath(new URL('../fixtures/sql-session.mjs', import.meta.url));

export type SqlBackend = 'mysql' | 'postgres';

/** The environment of a child: the server's URI, and lease locks of `lease` ms instead of the backend's held locks. */
function childEnv(uri: string | undefined, lease: number | undefined): NodeJS.ProcessEnv {
  return { ...process.env, ...(uri === undefined ? {} : { TIED_TEST_SQL_URI: uri }), ...(lease === undefined ? {} : { TIED_TEST_SQL_LEASE: String(lease) }) };
}

/**
 * Runs `processes` Node processes that each add 1 to `count` of session `id`, `times` times; resolves
 * when all exit 0. `uri`: the server to use instead of the default one (a connection string or mysql URI);
 * `lease`: lock with lease locks of that many ms (MySQLLease, PostgresLease).
 */
export async function incrementInChildren(backend: SqlBackend, table: string, id: string, processes: number, times: number, uri?: string, lease?: number): Promise<void> {
  await Promise.all(Array.from({ length: processes }, async () => {
    const env = childEnv(uri, lease);
    const child = spawn(process.execPath, [fixture, 'increment', backend, table, id, String(times)], { stdio: ['ignore', 'ignore', 'pipe'], env });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const [code, signal] = (await once(child, 'exit')) as [number | null, string | null];
    if (code !== 0) throw new Error(`an incrementing process exited with ${code ?? signal}: ${stderr}`);
  }));
}

/** A Node process that holds session `id` open (write-locked; with `lease`, by a lease lock of that many ms) until killed; resolves once it holds it. */
export async function holdInChild(backend: SqlBackend, table: string, id: string, lease?: number): Promise<ChildProcess> {
  const child = spawn(process.execPath, [fixture, 'hold', backend, table, id], { stdio: ['ignore', 'pipe', 'inherit'], env: childEnv(undefined, lease) });
  const exited = once(child, 'exit').then(([code]) => {
    throw new Error(`the holding process exited with ${code} before holding the session`);
  });
  const held = (async () => {
    for await (const line of createInterface({ input: child.stdout! })) if (line === 'held') return;
  })();
  await Promise.race([held, exited]);
  exited.catch(() => {});
  return child;
}

/** SIGKILL: the process dies without releasing anything. */
export async function killHard(child: ChildProcess): Promise<void> {
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  await exited;
}
