import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { defineSession } from '@tied/core';
import { nanoid } from '@tied/generators';
import { fileLocker, slotFileLocker } from '@tied/lockers/file';
import { superjson } from '@tied/serializers';
import { fileStore, slotFileParts, slotFileStore } from '@tied/stores/file';
import { registerPart } from './registry.js';

/**
 * Where the embedded default keeps its session files (and where the Flex 'File' store and lock
 * default to): `$TIED_DIRECTORY`, else `<os.tmpdir()>/tied-<uid>` (one folder per user). Read once,
 * when tied is imported.
 */
export const defaultDirectory: string = process.env.TIED_DIRECTORY || join(tmpdir(), `tied-${process.getuid?.() ?? userInfo().username}`);

/**
 * Sessions in two-slot files, each flock-locked on itself, nanoid ids, superjson: the embedded default
 * of `openSession()` (Flex 'SlotFile'). Not Perl's format: tied/apache File (Flex 'File') is.
 */
export const FileSession = defineSession({
  ...slotFileParts({ directory: defaultDirectory }),
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

// Perl's Store::File layout and Lock::File names.
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
// tied's two-slot files, locked on themselves: FileSession's parts. A store and a lock of one directory fuse.
registerPart('store', 'SlotFile', (args) => slotFileStore({
  directory: pathArgument(args, 'directory', 'Directory') ?? defaultDirectory,
  fsync: args.fsync as boolean | undefined,
  mode: args.mode as number | undefined,
}), { arguments: ['directory', 'fsync', 'mode'] });
registerPart('lock', 'SlotFile', (args) => slotFileLocker({
  directory: pathArgument(args, 'directory', 'Directory') ?? defaultDirectory,
}), { arguments: ['directory'] });
