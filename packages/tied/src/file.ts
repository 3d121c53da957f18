import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { defineSession } from '@tied/core';
import { nanoid } from '@tied/generators';
import { fileLocker } from '@tied/lockers/file';
import { superjson } from '@tied/serializers';
import { fileStore } from '@tied/stores/file';
import { registerPart } from './registry.js';

/**
 * Where the embedded default keeps session files and their lock files: `$TIED_DIRECTORY`, else
 * `<os.tmpdir()>/tied-<uid>` (one folder per user). Read once, when tied is imported.
 */
export const defaultDirectory: string = process.env.TIED_DIRECTORY || join(tmpdir(), `tied-${process.getuid?.() ?? userInfo().username}`);

/** Sessions in files, flock-locked, nanoid ids, superjson: the embedded default of `openSession()`. */
export const FileSession = defineSession({
  store: fileStore({ directory: defaultDirectory }),
  locker: fileLocker({ lockDirectory: defaultDirectory }),
  generator: nanoid(),
  serializer: superjson(),
});

/** The first of these Flex arguments that is given (Perl spells them Directory, LockDirectory). */
function pathArgument(args: Record<string, unknown>, ...names: string[]): string | undefined {
  for (const name of names) {
    const value = args[name];
    if (value === undefined) continue;
    if (typeof value !== 'string') throw new TypeError(`The Flex argument ${name} must be a path, got ${typeof value}`);
    return value;
  }
  return undefined;
}

registerPart('store', 'File', (args) => fileStore({
  directory: pathArgument(args, 'directory', 'Directory') ?? defaultDirectory,
  fsync: args.fsync as boolean | undefined,
  shardDepth: args.shardDepth as number | undefined,
  mode: args.mode as number | undefined,
}), { arguments: ['directory', 'fsync', 'shardDepth', 'mode'] });
// Lock files go beside the sessions unless a lock directory is named.
registerPart('lock', 'File', (args) => fileLocker({
  lockDirectory: pathArgument(args, 'lockDirectory', 'LockDirectory', 'directory', 'Directory') ?? defaultDirectory,
}), { arguments: ['lockDirectory', 'directory'] });
