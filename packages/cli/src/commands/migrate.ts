import { createInterface } from 'node:readline';
import SuperJSON, { type SuperJSONResult } from 'superjson';
import type { Command } from 'commander';
import type { Flavor, Generator, Session } from '@tied/core';
import { Context, type Waiting } from '../context.js';
import { CliError, EXIT, exitCodeOf, messageOf } from '../exit-codes.js';
import { listSessions } from '../listing.js';
import { count, progress, wholeMs, writeLine } from '../output.js';
import { readSession } from './inspect.js';

/** One line of `tied export`: the id, when it was last saved (ms since the epoch), and superjson's form of the data. */
interface ExportLine {
  id: string;
  updatedAt?: number;
  data: SuperJSONResult;
}

type OnConflict = 'skip' | 'overwrite' | 'fail';
const ON_CONFLICT: readonly OnConflict[] = ['skip', 'overwrite', 'fail'];

/** export and import: moving sessions between stores. */
export function addMigrateCommands(program: Command, context: () => Context): void {
  program.command('export')
    .description('write every session as JSON lines on stdout: {"id","updatedAt","data"} (data in superjson form, so Dates, Maps, Sets and BigInts survive)')
    .action(async () => {
      const ctx = context();
      await ctx.withStore(async (flavor) => {
        const bar = progress(ctx.streams, 'exporting');
        let exported = 0;
        const unreadable: string[] = [];
        try {
          for await (const { id, updatedAt } of listSessions(flavor, 'export them')) {
            ctx.signal.throwIfAborted();
            let data;
            try {
              data = await readSession(flavor, id, ctx.waiting);
            } catch (error) {
              const code = exitCodeOf(error);
              // Removed since it was listed: nothing to export.
              if (code === EXIT.notFound) continue;
              if (code === EXIT.invalidId) {
                throw new CliError(`${messageOf(error)}; the store holds ids the ${flavor.parts.generator.name} generator does not make: pass --generator (md5 for Perl's)`, code, { cause: error });
              }
              if (code !== EXIT.corrupt) throw error;
              unreadable.push(id);
              continue;
            }
            const line: ExportLine = { id, updatedAt: wholeMs(updatedAt), data: SuperJSON.serialize(data) };
            if (!ctx.streams.stdout.write(JSON.stringify(line) + '\n')) await new Promise((resolve) => ctx.streams.stdout.once('drain', resolve));
            exported++;
            bar.increment();
          }
        } finally {
          bar.stop();
        }
        writeLine(ctx.streams.stderr, `exported ${count(exported, 'session')}`);
        if (unreadable.length > 0) {
          throw new CliError(`${count(unreadable.length, 'session')} could not be read by the ${flavor.parts.serializer.name} serializer and were not exported: ${unreadable.slice(0, 10).join(', ')}${unreadable.length > 10 ? ', …' : ''}`, EXIT.corrupt);
        }
      });
    });

  program.command('import')
    .description('create sessions from JSON lines on stdin, as export writes them (each under its own id)')
    .option('--on-conflict <what>', `when the id exists: ${ON_CONFLICT.join(', ')}`, 'fail')
    .action(async (options: { onConflict: string }) => {
      const ctx = context();
      const onConflict = options.onConflict as OnConflict;
      if (!ON_CONFLICT.includes(onConflict)) throw new CliError(`--on-conflict must be ${ON_CONFLICT.join(', ')}, got "${options.onConflict}"`, EXIT.usage);
      await ctx.withStore(async (flavor) => {
        const generator: Generator = flavor.parts.generator;
        const bar = progress(ctx.streams, 'importing');
        const counts = { created: 0, overwritten: 0, skipped: 0 };
        let lineNumber = 0;
        try {
          for await (const text of createInterface({ input: ctx.streams.stdin, crlfDelay: Infinity })) {
            lineNumber++;
            ctx.signal.throwIfAborted();
            if (text.trim() === '') continue;
            const { id, data } = parseLine(text, lineNumber);
            generator.validate(id);
            counts[await importSession(flavor, id, data, onConflict, ctx.waiting)]++;
            bar.increment();
          }
        } catch (error) {
          const done = `after ${count(counts.created + counts.overwritten, 'session')} imported`;
          if (error instanceof CliError) throw new CliError(`${error.message} (${done})`, error.exitCode, { cause: error.cause });
          throw new CliError(`line ${lineNumber}: ${(error as Error).message} (${done})`, exitCodeOf(error), { cause: error });
        } finally {
          bar.stop();
        }
        writeLine(ctx.streams.stdout, `imported ${count(counts.created + counts.overwritten, 'session')} (${counts.overwritten} overwritten, ${counts.skipped} skipped as existing)`);
      });
    });
}

function parseLine(text: string, lineNumber: number): { id: string; data: Record<string, unknown> } {
  let line: Partial<ExportLine>;
  try {
    line = JSON.parse(text) as Partial<ExportLine>;
  } catch (error) {
    throw new CliError(`line ${lineNumber} is not JSON: ${(error as Error).message}`, EXIT.usage);
  }
  if (typeof line !== 'object' || line === null || typeof line.id !== 'string' || typeof line.data !== 'object' || line.data === null) {
    throw new CliError(`line ${lineNumber} is not an exported session: expected {"id": "…", "data": {"json": …, "meta": …}}`, EXIT.usage);
  }
  let data: unknown;
  try {
    data = SuperJSON.deserialize(line.data);
  } catch (error) {
    throw new CliError(`line ${lineNumber} (${line.id}): its data is not in superjson form: ${(error as Error).message}`, EXIT.usage);
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new CliError(`line ${lineNumber} (${line.id}): its data is not an object`, EXIT.usage);
  }
  const { _session_id: _, ...fields } = data as Record<string, unknown>;
  return { id: line.id, data: fields };
}

function fill(session: Session, data: Record<string, unknown>): void {
  Object.assign(session, data);
}

/** Creates `id` with `data`; when it exists, skips, overwrites (under its write lock) or fails. */
async function importSession(flavor: Flavor, id: string, data: Record<string, unknown>, onConflict: OnConflict, waiting: Waiting): Promise<'created' | 'overwritten' | 'skipped'> {
  try {
    // Lazy: inserted with its data in one write at release, so a session that cannot be stored
    // leaves nothing behind. A session without fields is not "modified", so it is inserted at open.
    const lazy = Object.keys(data).length > 0;
    await flavor.with(undefined, (session) => fill(session, data), { id, lazy, ...waiting });
    return 'created';
  } catch (error) {
    if (exitCodeOf(error) !== EXIT.conflict) throw error;
  }
  if (onConflict === 'skip') return 'skipped';
  if (onConflict === 'fail') throw new CliError(`session ${id} exists already (--on-conflict skip or overwrite to go on)`, EXIT.conflict);
  await flavor.with(id, (session) => {
    for (const key of Object.keys(session)) if (key !== '_session_id') delete session[key];
    fill(session, data);
  }, waiting);
  return 'overwritten';
}
