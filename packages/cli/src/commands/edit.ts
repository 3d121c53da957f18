import SuperJSON from 'superjson';
import type { Command } from 'commander';
import { tied, type Flavor, type Generator, type Session } from '@tied/core';
import { Context, type Waiting } from '../context.js';
import { CliError, EXIT, exitCodeOf } from '../exit-codes.js';
import { writeLine } from '../output.js';
import { getPath, parseJsonArgument, parsePath, setPath, unsetPath } from '../paths.js';
import { readSession } from './inspect.js';

/** get, set, unset, new, rm: reading and changing single sessions. */
export function addEditCommands(program: Command, context: () => Context): void {
  program.command('get')
    // Ids and JSON values may start with '-' (a nanoid does 1 time in 64): operands, not options.
    .allowUnknownOption()
    .description('print the value at a dot path (user.name, cart.items.0) as JSON')
    .argument('<id>', 'session id')
    .argument('<path>', 'dot path into the data')
    .action(async (id: string, pathText: string) => {
      const ctx = context();
      const path = parsePath(pathText);
      await ctx.withStore(async (flavor) => {
        const { found, value } = getPath(await readSession(flavor, id, ctx.waiting), path);
        if (!found) throw new CliError(`Session ${id} has no value at ${pathText}`, EXIT.notFound);
        writeLine(ctx.streams.stdout, JSON.stringify(SuperJSON.serialize(value).json) ?? 'undefined');
      });
    });

  program.command('set')
    // Ids and JSON values may start with '-' (a nanoid does 1 time in 64): operands, not options.
    .allowUnknownOption()
    .description('set the value at a dot path (write lock; saved)')
    .argument('<id>', 'session id')
    .argument('<path>', 'dot path into the data; missing objects on the way are created')
    .argument('<json>', `the value as JSON: '"Ann"', 42, '{"a":1}'`)
    .action(async (id: string, pathText: string, jsonText: string) => {
      const ctx = context();
      const path = parsePath(pathText);
      const value = parseJsonArgument(jsonText, 'set');
      if (path[0] === '_session_id') throw new CliError('_session_id is the id itself and cannot be set', EXIT.usage);
      await ctx.withStore((flavor) => editSession(flavor, id, ctx.waiting, (session) => {
        setPath(session, path, value);
        if (path.length > 1) tied(session)!.touch();
      }));
    });

  program.command('unset')
    // Ids and JSON values may start with '-' (a nanoid does 1 time in 64): operands, not options.
    .allowUnknownOption()
    .description('remove the value at a dot path (write lock; saved)')
    .argument('<id>', 'session id')
    .argument('<path>', 'dot path into the data')
    .action(async (id: string, pathText: string) => {
      const ctx = context();
      const path = parsePath(pathText);
      if (path[0] === '_session_id') throw new CliError('_session_id is the id itself and cannot be removed', EXIT.usage);
      await ctx.withStore((flavor) => editSession(flavor, id, ctx.waiting, (session) => {
        if (!unsetPath(session, path)) throw new CliError(`Session ${id} has no value at ${pathText}`, EXIT.notFound);
        if (path.length > 1) tied(session)!.touch();
      }));
    });

  program.command('new')
    .description('create a session and print its id')
    .option('--set <path=json...>', 'a value for the new session (repeatable): --set user.name=\'"Ann"\'')
    .action(async (options: { set?: string[] }) => {
      const ctx = context();
      const assignments = (options.set ?? []).map(parseAssignment);
      await ctx.withStore(async (flavor) => {
        const session = await flavor.open(undefined, ctx.waiting);
        const handle = tied(session)!;
        try {
          for (const { path, value } of assignments) setPath(session, path, value);
        } catch (error) {
          await handle.delete();
          throw error;
        }
        await handle.release();
        writeLine(ctx.streams.stdout, handle.id);
      });
    });

  program.command('rm')
    // Ids and JSON values may start with '-' (a nanoid does 1 time in 64): operands, not options.
    .allowUnknownOption()
    .description('remove sessions (each under its write lock); a corrupt session can be removed too')
    .argument('<ids...>', 'session ids')
    .action(async (ids: string[]) => {
      const ctx = context();
      await ctx.withStore(async (flavor) => {
        // Every id is checked before any store or lock is touched.
        const generator: Generator = flavor.parts.generator;
        for (const id of ids) generator.validate(id);
        const missing: string[] = [];
        for (const id of ids) {
          if (!(await removeSession(flavor, id, ctx.waiting))) missing.push(id);
        }
        if (missing.length > 0) {
          throw new CliError(`No session ${missing.join(', ')}${ids.length > missing.length ? ` (the other ${ids.length - missing.length} were removed)` : ''}`, EXIT.notFound);
        }
      });
    });
}

/** `PATH=JSON` of `new --set`. */
function parseAssignment(text: string): { path: string[]; value: unknown } {
  const equals = text.indexOf('=');
  if (equals <= 0) throw new CliError(`--set "${text}": expected PATH=JSON, such as user.name='"Ann"'`, EXIT.usage);
  const path = parsePath(text.slice(0, equals));
  if (path[0] === '_session_id') throw new CliError('_session_id is the id itself and cannot be set', EXIT.usage);
  return { path, value: parseJsonArgument(text.slice(equals + 1), `--set ${text.slice(0, equals)}`) };
}

/** Opens `id` under its write lock, runs `change`, saves; a change that throws saves nothing. */
function editSession(flavor: Flavor, id: string, waiting: Waiting, change: (session: Session) => void): Promise<void> {
  return flavor.with(id, change, waiting);
}

/**
 * Removes one session under its write lock, without reading its data through the serializer (so a
 * corrupt session can be removed). False when there was none.
 */
export async function removeSession(flavor: Flavor, id: string, waiting: Waiting): Promise<boolean> {
  const { store, locker } = flavor.parts;
  const lock = await locker.acquire(id, 'write', { timeout: waiting.lockTimeout, signal: waiting.signal });
  try {
    try {
      await store.materialize(id);
    } catch (error) {
      if (exitCodeOf(error) === EXIT.notFound) return false;
      throw error;
    }
    await store.remove(id);
    return true;
  } finally {
    await lock.release();
  }
}
