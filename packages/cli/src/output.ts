import { inspect } from 'node:util';
import cliProgress from 'cli-progress';
import { redact } from './redact.js';

/** Where the command writes; tests and the bin use the process streams. */
export interface Streams {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  stdin: NodeJS.ReadableStream;
}

/** Colour only on a terminal, and never when NO_COLOR is set (https://no-color.org). */
function colours(stream: { isTTY?: boolean }): boolean {
  return stream.isTTY === true && !process.env.NO_COLOR;
}

export function writeLine(stream: NodeJS.WritableStream, line: string): void {
  stream.write(redact(line) + '\n');
}

/** Session data for people: util.inspect shows Dates, Maps, Sets and BigInts as they are. */
export function pretty(value: unknown, stream: { isTTY?: boolean }): string {
  return inspect(value, { depth: null, colors: colours(stream), sorted: true, breakLength: 100, maxArrayLength: null, maxStringLength: null });
}

export interface Progress {
  increment(by?: number): void;
  stop(): void;
}

/**
 * Progress on stderr when it is a terminal; nothing otherwise (cron mails stay clean). The total is
 * not known in advance (listings are streamed, never counted first), so it shows how many are done
 * and for how long.
 */
export function progress(streams: Streams, label: string): Progress {
  if (streams.stderr.isTTY !== true) return { increment() {}, stop() {} };
  const bar = new cliProgress.SingleBar({
    stream: streams.stderr as NodeJS.WritableStream,
    format: `${label}: {value} done ({duration_formatted})`,
    hideCursor: true,
    clearOnComplete: true,
  });
  bar.start(0, 0);
  return { increment: (by = 1) => bar.increment(by), stop: () => bar.stop() };
}

/** `2026-11-30 16:39:18` in UTC: sortable, and the same on every machine. */
export function formatTime(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return '-';
  return new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

/** Columns padded to their widest cell; the last is not padded. */
export function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, column) => Math.max(...rows.map((row) => row[column]!.length))) ?? [];
  return rows.map((row) => row.map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column]!))).join('  ')).join('\n');
}

/** Milliseconds since the epoch as JSON shows them: whole (file times carry sub-millisecond fractions). */
export function wholeMs(ms: number | undefined): number | undefined {
  return ms === undefined ? undefined : Math.floor(ms);
}

/** `1 session`, `2 sessions`. */
export function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}
