import SuperJSON from 'superjson';
import type { Command } from 'commander';
import { tied, type Flavor } from '@tied/core';
import { parseDuration } from '../duration.js';
import { CliError, EXIT, exitCodeOf, messageOf } from '../exit-codes.js';
import { Context, positiveInteger, type Waiting } from '../context.js';
import { NewestFirst, listSessions, requireUpdatedAt } from '../listing.js';
import { formatTime, pretty, table, wholeMs, writeLine } from '../output.js';

/** ls, show, stats: reading a store. */
export function addInspectCommands(program: Command, context: () => Context): void {
  program.command('ls')
    .description('list sessions, newest first: id, updated at (UTC), size in bytes')
    .option('--json', 'one JSON object per line: {"id","updatedAt","size"}')
    .option('--older-than <duration>', 'only sessions not saved for this long (30d, 12h, 90m, 1w)')
    .option('--limit <n>', 'at most this many (the newest)', positiveInteger('--limit'))
    .action(async (options: { json?: boolean; olderThan?: string; limit?: number }) => {
      const ctx = context();
      const olderThan = options.olderThan === undefined ? undefined : parseDuration(options.olderThan, '--older-than');
      await ctx.withStore(async (flavor) => {
        if (olderThan !== undefined) requireUpdatedAt(flavor, 'tell which sessions are older than --older-than');
        const cutoff = Date.now() - (olderThan ?? 0);
        const newest = new NewestFirst(options.limit);
        for await (const entry of listSessions(flavor, 'list them')) {
          if (olderThan !== undefined && !(entry.updatedAt! < cutoff)) continue;
          newest.add(entry);
        }
        const { stdout } = ctx.streams;
        if (options.json) {
          for (const { id, updatedAt, size } of newest.sorted) writeLine(stdout, JSON.stringify({ id, updatedAt: wholeMs(updatedAt), size }));
        } else if (stdout.isTTY) {
          const rows = newest.sorted.map((entry) => [entry.id, formatTime(entry.updatedAt), String(entry.size ?? '-')]);
          if (rows.length > 0) writeLine(stdout, table([['ID', 'UPDATED', 'SIZE'], ...rows]));
        } else {
          // For pipes: tab-separated, no header, times as ISO 8601.
          for (const entry of newest.sorted) writeLine(stdout, [entry.id, entry.updatedAt === undefined ? '-' : new Date(entry.updatedAt).toISOString(), entry.size ?? '-'].join('\t'));
        }
      });
    });

  program.command('show')
    // Ids and JSON values may start with '-' (a nanoid does 1 time in 64): operands, not options.
    .allowUnknownOption()
    .description("print a session's data (read under a shared lock)")
    .argument('<id>', 'session id')
    .option('--json', "as JSON (superjson's json part: Dates as ISO strings, Maps as [key, value] lists)")
    .action(async (id: string, options: { json?: boolean }) => {
      const ctx = context();
      await ctx.withStore(async (flavor) => {
        const data = await readSession(flavor, id, ctx.waiting);
        const { stdout } = ctx.streams;
        writeLine(stdout, options.json ? JSON.stringify(SuperJSON.serialize(data).json) : pretty(data, stdout));
      });
    });

  program.command('stats')
    .description('count, total and largest size, oldest and newest session')
    .option('--json', 'as one JSON object')
    .action(async (options: { json?: boolean }) => {
      const ctx = context();
      await ctx.withStore(async (flavor) => {
        let count = 0;
        let totalBytes = 0;
        let largest: { id: string; size: number } | undefined;
        let oldest: { id: string; updatedAt: number } | undefined;
        let newest: { id: string; updatedAt: number } | undefined;
        for await (const { id, size, updatedAt } of listSessions(flavor, 'count them')) {
          count++;
          totalBytes += size ?? 0;
          if (size !== undefined && (!largest || size > largest.size)) largest = { id, size };
          if (updatedAt !== undefined && (!oldest || updatedAt < oldest.updatedAt)) oldest = { id, updatedAt };
          if (updatedAt !== undefined && (!newest || updatedAt > newest.updatedAt)) newest = { id, updatedAt };
        }
        const { stdout } = ctx.streams;
        if (options.json) {
          writeLine(stdout, JSON.stringify({ count, totalBytes, largest, oldest: oldest && { ...oldest, updatedAt: wholeMs(oldest.updatedAt) }, newest: newest && { ...newest, updatedAt: wholeMs(newest.updatedAt) } }));
          return;
        }
        writeLine(stdout, table([
          ['sessions', String(count)],
          ['total size', `${totalBytes} bytes`],
          ['largest', largest ? `${largest.size} bytes (${largest.id})` : '-'],
          ['oldest', oldest ? `${formatTime(oldest.updatedAt)} (${oldest.id})` : '-'],
          ['newest', newest ? `${formatTime(newest.updatedAt)} (${newest.id})` : '-'],
        ]));
      });
    });
}

/** A copy of the session's data without `_session_id`, read under a shared lock. */
export async function readSession(flavor: Flavor, id: string, waiting: Waiting): Promise<Record<string, unknown>> {
  let session;
  try {
    session = await flavor.open(id, { readonly: true, ...waiting });
  } catch (error) {
    // The serializer's message does not say which session.
    if (exitCodeOf(error) === EXIT.corrupt) throw new CliError(`Session ${id} is corrupt: ${messageOf(error)}`, EXIT.corrupt, { cause: error });
    throw error;
  }
  try {
    const { _session_id: _, ...data } = session as Record<string, unknown>;
    return data;
  } finally {
    await tied(session)!.release();
  }
}
