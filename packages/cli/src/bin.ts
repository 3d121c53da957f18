#!/usr/bin/env node
import { run } from './program.js';

const aborting = new AbortController();
// Long work (purge, export, import) stops between two sessions and reports what it did.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => aborting.abort(new Error(`stopped by ${signal}`)));
// `tied export | head`: a closed pipe ends the command quietly.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

process.exitCode = await run(process.argv.slice(2), process, aborting.signal);
