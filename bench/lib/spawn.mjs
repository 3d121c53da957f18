import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cycleSession } from './workload.mjs';

const BENCH_DIR = fileURLToPath(new URL('..', import.meta.url));
const NODE_CHILD = join(BENCH_DIR, 'child.mjs');
const PERL_CHILD = join(BENCH_DIR, 'apache-session.pl');

/**
 * The table / key prefix / directory a target works in: tied_bench_<run>_<target>, the run being
 * the bench's process id, so that two bench runs on one server never empty each other's tables.
 */
export function namespaceOf(target, { runId, baseDir }) {
  const name = `tied_bench_${runId}_${target.id.replace(/-/g, '_')}`;
  return { name, dir: join(baseDir, name) };
}

function run(command, args, timeoutMs) {
  return new Promise((resolve) => {
    execFile(command, args, { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      resolve({ error, stdout, stderr });
    });
  });
}

/**
 * Runs one task of a target in a fresh process (node child.mjs or perl apache-session.pl) and
 * returns its answer: { result } | { unavailable } | { error }. Never throws: a crash, a timeout
 * or garbage output become { error }.
 */
export async function runTask(target, task, { runId, baseDir, timeoutMs }) {
  // The session to seed travels with the task for Perl; Node children import it from workload.mjs.
  const message = JSON.stringify({ target: target.id, namespace: namespaceOf(target, { runId, baseDir }), session: cycleSession(), ...task });
  const [command, script] = target.runtime === 'perl' ? ['perl', PERL_CHILD] : [process.execPath, NODE_CHILD];
  const { error, stdout, stderr } = await run(command, [script, message], timeoutMs);
  const lastLine = stdout.trim().split('\n').pop();
  try {
    const answer = JSON.parse(lastLine);
    if ('result' in answer || 'unavailable' in answer || 'error' in answer) return answer;
  } catch {
    // Not an answer: reported below with whatever the process said.
  }
  const why = error?.killed ? `killed after ${timeoutMs} ms` : `exited with ${error?.code ?? 0}`;
  return { error: `${target.id} ${task.op}: ${why}: ${(stderr || stdout).trim().slice(-2000)}` };
}

/** Runs the micro figures in a fresh Node process. */
export function runMicro(task, runOptions) {
  return runTask({ id: 'micro', runtime: 'node' }, { op: 'micro', ...task }, runOptions);
}

/** Why a Perl target cannot run here, or undefined when perl has Apache::Session and the DBD it needs. */
export async function perlMissing(target) {
  const modules = {
    mysql: ['Apache::Session::MySQL', 'DBD::mysql'],
    postgres: ['Apache::Session::Postgres', 'DBD::Pg'],
    file: ['Apache::Session::File'],
  }[target.backend];
  const { error } = await run('perl', [...modules.map((m) => `-M${m}`), '-e1'], 30_000);
  return error ? `perl with ${modules.join(' and ')} is not installed` : undefined;
}
