import { CliError, EXIT } from './exit-codes.js';

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;

/** One or more `<integer><unit>` in a row, largest unit first or not: `30d`, `1h30m`, `1w2d`. */
const DURATION = /^(?:\d+(?:ms|s|m|h|d|w))+$/;
const PART = /(\d+)(ms|s|m|h|d|w)/g;

export const DURATION_FORMS = '45s, 90m, 12h, 30d, 1w, 500ms, or combinations such as 1h30m';

/** Milliseconds of a duration such as `30d`; a bad one is a usage error naming the accepted forms. */
export function parseDuration(text: string, option: string): number {
  const trimmed = text.trim();
  if (!DURATION.test(trimmed)) {
    throw new CliError(`${option}: "${text}" is not a duration; use ${DURATION_FORMS}`, EXIT.usage);
  }
  let total = 0;
  for (const [, count, unit] of trimmed.matchAll(PART)) total += Number(count) * UNIT_MS[unit as keyof typeof UNIT_MS];
  if (!Number.isSafeInteger(total)) throw new CliError(`${option}: "${text}" is too long a duration`, EXIT.usage);
  return total;
}

/** `90061000` → `1d1h1m1s`, for messages. */
export function formatDuration(ms: number): string {
  let left = ms;
  let text = '';
  for (const unit of ['w', 'd', 'h', 'm', 's'] as const) {
    const count = Math.floor(left / UNIT_MS[unit]);
    if (count > 0) text += `${count}${unit}`;
    left -= count * UNIT_MS[unit];
  }
  return text || (ms === 0 ? '0s' : `${ms}ms`);
}
