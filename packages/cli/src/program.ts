import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { Context, type GlobalOptions } from './context.js';
import { addEditCommands } from './commands/edit.js';
import { addExpireCommands } from './commands/expire.js';
import { addInspectCommands } from './commands/inspect.js';
import { addMigrateCommands } from './commands/migrate.js';
import { EXIT, exitCodeOf, messageOf, type ExitCode } from './exit-codes.js';
import { writeLine, type Streams } from './output.js';
import { redact } from './redact.js';

const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };

/** The `tied` command, writing to `streams`. */
export function buildProgram(streams: Streams, signal: AbortSignal): Command {
  const program = new Command('tied')
    .description('Inspect, edit, expire and migrate tied (and Perl Apache::Session) sessions on any store')
    .version(version, '-V, --version')
    .addOption(new Option('-s, --store <url>', 'file:///dir, mysql://user@host/db?table=t, postgres://…?table=t, redis://host:port/db?prefix=p').env('TIED_STORE'))
    .option('--serializer <name>', 'SuperJSON (default), JSON, Storable, Base64 — as Apache::Session::Flex names them')
    .option('--locker <name>', "the store's own (default), Null, Memory, File (?lockDirectory=)")
    .option('--generator <name>', 'Nanoid (default), MD5 (Perl\'s 32 hex digits), Hex, UUID: which ids are valid')
    .option('--lock-timeout <duration>', 'how long to wait for a session\'s lock', '30s')
    .option('-v, --verbose', 'errors with their causes')
    .showHelpAfterError('(add --help for usage)')
    .exitOverride()
    .configureOutput({
      writeOut: (text) => streams.stdout.write(text),
      writeErr: (text) => streams.stderr.write(redact(text)),
    });

  const context = () => new Context(streams, program.opts<GlobalOptions>(), signal);
  addInspectCommands(program, context);
  addEditCommands(program, context);
  addExpireCommands(program, context);
  addMigrateCommands(program, context);
  program.command('secret')
    .description('print a fresh random cookie secret (base64url of 32 random bytes) for @tied/http')
    .action(() => writeLine(streams.stdout, randomBytes(32).toString('base64url')));

  // Every subcommand reports usage errors and exits as the program does.
  for (const command of program.commands) {
    command.exitOverride().showHelpAfterError('(add --help for usage)').configureOutput(program.configureOutput());
  }
  return program;
}

/** Runs `tied` with `args` (without node and the script) and returns the exit code; never throws. */
export async function run(args: string[], streams: Streams, signal: AbortSignal): Promise<ExitCode> {
  const program = buildProgram(streams, signal);
  try {
    await program.parseAsync(args, { from: 'user' });
    return EXIT.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end here too, with exit code 0; commander has printed its message.
      return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    report(error, streams, program.opts<GlobalOptions>().verbose === true);
    return exitCodeOf(error);
  }
}

/** One line on stderr; with --verbose, the causes below it. */
function report(error: unknown, streams: Streams, verbose: boolean): void {
  writeLine(streams.stderr, `tied: ${messageOf(error)}`);
  if (!verbose) return;
  const seen = new Set<unknown>([error]);
  let innermost = error;
  for (let cause = (error as { cause?: unknown })?.cause; cause !== undefined && !seen.has(cause); cause = (cause as { cause?: unknown })?.cause) {
    seen.add(cause);
    innermost = cause;
    writeLine(streams.stderr, `  caused by: ${messageOf(cause)}`);
  }
  // Where the innermost error was thrown: what a bug report needs.
  if (innermost instanceof Error && innermost.stack) writeLine(streams.stderr, innermost.stack.split('\n').slice(1).join('\n'));
}
