/** Median, min and max of a non-empty list of numbers. */
export function spread(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  const median = sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
  return { median, min: sorted[0], max: sorted[sorted.length - 1], n: sorted.length };
}

/**
 * What a target's rounds add up to: its cycles/s spread when at least one round ran, else why not.
 * `rounds[r]` is the answer of round r ({ result } | { unavailable } | { error }).
 */
export function summarizeTarget(rounds) {
  const values = rounds.filter((answer) => answer?.result).map((answer) => answer.result.cyclesPerSecond);
  const cpu = rounds.map((answer) => answer?.result?.cpuUsPerCycle).filter((value) => value !== undefined);
  const errors = rounds.filter((answer) => answer?.error).map((answer) => answer.error);
  const unavailable = rounds.find((answer) => answer?.unavailable)?.unavailable;
  if (values.length > 0) return { status: 'ok', ...spread(values), cpuUsPerCycle: cpu.length > 0 ? spread(cpu).median : undefined, errors };
  if (unavailable) return { status: 'unavailable', reason: unavailable };
  return { status: 'error', reason: errors[0] ?? 'did not run', errors };
}

/**
 * tied ÷ other, per backend: the ratio is taken within each round (both ran in the same minute of
 * the same machine), then summarized over rounds. > 1: tied does more cycles per second.
 */
export function ratios(targets, roundsById) {
  const rows = [];
  for (const tiedTarget of targets.filter((t) => t.kind === 'tied')) {
    for (const other of targets.filter((t) => t.backend === tiedTarget.backend && t.kind !== 'tied')) {
      const mine = roundsById.get(tiedTarget.id) ?? [];
      const theirs = roundsById.get(other.id) ?? [];
      const perRound = mine
        .map((answer, round) => [answer?.result?.cyclesPerSecond, theirs[round]?.result?.cyclesPerSecond])
        .filter(([a, b]) => a !== undefined && b !== undefined)
        .map(([a, b]) => a / b);
      if (perRound.length > 0) rows.push({ backend: tiedTarget.backend, tied: tiedTarget.id, other: other.id, kind: other.kind, ...spread(perRound) });
    }
  }
  return rows;
}
