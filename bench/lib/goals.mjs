/**
 * The sequential-cycle targets of issue 13, each a least ratio of tied's cycles/s over another
 * target's in the same round (median over rounds): every server backend ≥ 0.95× its floor and
 * ≥ 1.0× its express-session store; MySQL ≥ 1.25× Perl; memory ≥ 1.0× MemoryStore; file ≥ 5×
 * Perl's Apache::Session::File.
 */
export const SEQUENTIAL_GOALS = [
  { tied: 'tied-memory', other: 'peer-memory', least: 1.0 },
  { tied: 'tied-file', other: 'perl-file', least: 5.0 },
  { tied: 'tied-mysql', other: 'floor-mysql', least: 0.95 },
  { tied: 'tied-mysql', other: 'peer-mysql', least: 1.0 },
  { tied: 'tied-mysql', other: 'perl-mysql', least: 1.25 },
  { tied: 'tied-postgres', other: 'floor-postgres', least: 0.95 },
  { tied: 'tied-postgres', other: 'peer-postgres', least: 1.0 },
  { tied: 'tied-redis', other: 'floor-redis', least: 0.95 },
  { tied: 'tied-redis', other: 'peer-redis', least: 1.0 },
];

/** Each goal whose two targets were selected, with its ratio row (when both ran) and MET / MISSED. */
export function sequentialVerdicts(targets, ratioRows) {
  const selected = new Set(targets.map((t) => t.id));
  return SEQUENTIAL_GOALS.filter((goal) => selected.has(goal.tied) && selected.has(goal.other)).map((goal) => {
    const row = ratioRows.find((r) => r.tied === goal.tied && r.other === goal.other);
    if (!row) return { ...goal, status: 'not measured' };
    return { ...goal, row, status: row.median >= goal.least ? 'MET' : 'MISSED' };
  });
}
