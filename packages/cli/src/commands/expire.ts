import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import type { Locker } from '@tied/core';
import { Context, positiveInteger } from '../context.js';
import { formatDuration, parseDuration } from '../duration.js';
import { CliError, EXIT } from '../exit-codes.js';
import { count, progress, writeLine } from '../output.js';
import { purgeSessions } from '../purge.js';

/** Perl's Lock::File names, which its `clean` and tied's file locker match. */
const LOCK_FILE = /^Apache-Session-.*\.lock$/;

/** A locker with Perl's `clean` (tied's file locker). */
interface CleanableLocker extends Locker {
  readonly lockDirectory: string;
  clean(options: { olderThan: number }): Promise<number>;
}

/** purge and clean-locks: what cron runs. */
export function addExpireCommands(program: Command, context: () => Context): void {
  program.command('purge')
    .description('remove sessions not saved for a while, in batches, each under its write lock')
    .requiredOption('--older-than <duration>', 'age of the last save (30d, 12h, 90m, 1w, 1h30m)')
    .option('--dry-run', 'count what would be removed; change nothing')
    .option('--batch-size <n>', 'sessions per batch (a short pause follows each)', positiveInteger('--batch-size'), 1000)
    .option('--json', 'the summary as one JSON object')
    .action(async (options: { olderThan: string; dryRun?: boolean; batchSize: number; json?: boolean }) => {
      const ctx = context();
      const olderThan = parseDuration(options.olderThan, '--older-than');
      await ctx.withStore(async (flavor) => {
        const bar = progress(ctx.streams, options.dryRun ? 'counting' : 'purging');
        let result;
        try {
          result = await purgeSessions(flavor, {
            olderThan, dryRun: options.dryRun === true, batchSize: options.batchSize, signal: ctx.signal, onBatch: (done) => bar.increment(done),
          });
        } finally {
          bar.stop();
        }
        const age = formatDuration(olderThan);
        if (options.json) {
          writeLine(ctx.streams.stdout, JSON.stringify({ ...result, dryRun: options.dryRun === true, olderThan }));
        } else if (options.dryRun) {
          writeLine(ctx.streams.stdout, `dry run: ${count(result.purged, 'session')} not saved for ${age} would be purged`);
        } else {
          const skipped = result.skipped > 0 ? ` (${result.skipped} in use or saved meanwhile, left)` : '';
          writeLine(ctx.streams.stdout, `purged ${count(result.purged, 'session')} not saved for ${age}${skipped}`);
        }
        if (result.interrupted) throw new CliError(`interrupted after ${count(result.purged, 'session')}`, EXIT.interrupted);
      });
    });

  program.command('clean-locks')
    .description('remove lock files not used for a while (file locker); a lock still held is never removed')
    .requiredOption('--older-than <duration>', 'age of the last use (1h, 90m, 1d)')
    .option('--dry-run', 'count the candidates; change nothing')
    .option('--json', 'the summary as one JSON object')
    .action(async (options: { olderThan: string; dryRun?: boolean; json?: boolean }) => {
      const ctx = context();
      const olderThan = parseDuration(options.olderThan, '--older-than');
      await ctx.withStore(async (flavor) => {
        const locker = flavor.parts.locker as Partial<CleanableLocker>;
        if (typeof locker.clean !== 'function' || typeof locker.lockDirectory !== 'string') {
          throw new CliError(`The ${flavor.parts.locker.name} locker doesn't support clean-locks: it keeps no lock files (its locks end with their connection or lease)`, EXIT.unsupported);
        }
        const age = formatDuration(olderThan);
        const removed = options.dryRun ? oldLockFiles(locker.lockDirectory, Date.now() - olderThan) : await locker.clean({ olderThan });
        if (options.json) {
          writeLine(ctx.streams.stdout, JSON.stringify({ removed, dryRun: options.dryRun === true, olderThan }));
        } else if (options.dryRun) {
          writeLine(ctx.streams.stdout, `dry run: up to ${count(removed, 'lock file')} not used for ${age} would be removed (those still held are kept)`);
        } else {
          writeLine(ctx.streams.stdout, `removed ${count(removed, 'lock file')} not used for ${age}`);
        }
      });
    });
}

/** Lock files last used before `cutoff`; whether each is held is only known by trying its lock. */
function oldLockFiles(directory: string, cutoff: number): number {
  let names: string[];
  try {
    names = readdirSync(directory);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw error;
  }
  return names.filter((name) => LOCK_FILE.test(name) && (statSync(join(directory, name), { throwIfNoEntry: false })?.mtimeMs ?? Infinity) < cutoff).length;
}
