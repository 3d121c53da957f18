/**
 * Everything the bench measures. `kind`: tied (a tied flavor), floor (raw driver calls with a
 * lock, in the fewest round trips), peer (an express-session store through its Store API),
 * perl (Apache::Session). Node targets are `targets/<id>.mjs`; Perl ones run apache-session.pl.
 * `inProcess`: the data lives in one process's memory, so lost-update workers share one process.
 * `concurrency`: in the concurrency workload (tied's Node flavors and their express-session peers).
 */
export const TARGETS = [
  { id: 'tied-memory', label: 'tied MemorySession', backend: 'memory', kind: 'tied', runtime: 'node', concurrency: true, inProcess: true },
  { id: 'floor-memory', label: 'Map + JSON + mutex', backend: 'memory', kind: 'floor', runtime: 'node', inProcess: true },
  { id: 'peer-memory', label: 'express-session MemoryStore', backend: 'memory', kind: 'peer', runtime: 'node', concurrency: true, inProcess: true },

  { id: 'tied-file', label: 'tied FileSession', backend: 'file', kind: 'tied', runtime: 'node', concurrency: true },
  { id: 'apache-file', label: 'tied/apache File', backend: 'file', kind: 'tied', runtime: 'node' },
  { id: 'floor-file', label: 'flock + read + rename', backend: 'file', kind: 'floor', runtime: 'node' },
  { id: 'peer-file', label: 'session-file-store', backend: 'file', kind: 'peer', runtime: 'node', concurrency: true },
  { id: 'perl-file', label: 'Apache::Session::File', backend: 'file', kind: 'perl', runtime: 'perl' },

  { id: 'tied-mysql', label: 'tied MySQLSession', backend: 'mysql', kind: 'tied', runtime: 'node', concurrency: true },
  { id: 'tied-mysql-lease', label: "tied MySQLSession, lock: 'MySQLLease'", backend: 'mysql', kind: 'tied', runtime: 'node', concurrency: true },
  { id: 'apache-mysql', label: 'tied/apache MySQL', backend: 'mysql', kind: 'tied', runtime: 'node' },
  { id: 'floor-mysql', label: 'mysql2 callbacks: GET_LOCK + SELECT / UPDATE + RELEASE_LOCK', backend: 'mysql', kind: 'floor', runtime: 'node' },
  { id: 'peer-mysql', label: 'express-mysql-session', backend: 'mysql', kind: 'peer', runtime: 'node', concurrency: true },
  { id: 'perl-mysql', label: 'Apache::Session::MySQL', backend: 'mysql', kind: 'perl', runtime: 'perl' },

  { id: 'tied-postgres', label: 'tied PostgresSession', backend: 'postgres', kind: 'tied', runtime: 'node', concurrency: true },
  { id: 'tied-postgres-lease', label: "tied PostgresSession, lock: 'PostgresLease'", backend: 'postgres', kind: 'tied', runtime: 'node', concurrency: true },
  { id: 'apache-postgres', label: 'tied/apache Postgres', backend: 'postgres', kind: 'tied', runtime: 'node' },
  { id: 'floor-postgres', label: 'pg: BEGIN + SELECT FOR UPDATE / UPDATE + COMMIT', backend: 'postgres', kind: 'floor', runtime: 'node' },
  { id: 'peer-postgres', label: 'connect-pg-simple', backend: 'postgres', kind: 'peer', runtime: 'node', concurrency: true },
  { id: 'perl-postgres', label: 'Apache::Session::Postgres', backend: 'postgres', kind: 'perl', runtime: 'perl' },

  { id: 'tied-redis', label: 'tied RedisSession', backend: 'redis', kind: 'tied', runtime: 'node', concurrency: true },
  { id: 'floor-redis', label: 'ioredis: EVALSHA lock + GET / EVALSHA fenced SET + unlock', backend: 'redis', kind: 'floor', runtime: 'node' },
  { id: 'peer-redis', label: 'connect-redis', backend: 'redis', kind: 'peer', runtime: 'node', concurrency: true },
];

export const BACKENDS = ['memory', 'file', 'mysql', 'postgres', 'redis'];
export const KINDS = ['tied', 'floor', 'peer', 'perl'];

/** Targets whose id, backend or kind is in `only` (all of them when `only` is empty). */
export function selectTargets(only) {
  if (only.length === 0) return TARGETS;
  const unknown = only.filter((word) => !TARGETS.some((t) => t.id === word || t.backend === word || t.kind === word));
  if (unknown.length > 0) throw new Error(`--only: no target, backend or kind named ${unknown.join(', ')}`);
  return TARGETS.filter((t) => only.includes(t.id) || only.includes(t.backend) || only.includes(t.kind));
}
