#!/usr/bin/env node
// The signal handlers come first: the command's modules are loaded after them (dynamic imports), so a
// SIGINT while they load is handled like any other.
const aborting = new AbortController();
const { CliError, EXIT } = await import('./exit-codes.js');
// Long work (purge, export, import) stops between two sessions and reports what it did, and a wait
// for a lock ends; a second signal ends the command at once.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (aborting.signal.aborted) process.exit(130);
    aborting.abort(new CliError(`stopped by ${signal}`, EXIT.interrupted));
  });
}
// `tied export | head`: a closed pipe ends the command quietly.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

const { run } = await import('./program.js');
process.exitCode = await run(process.argv.slice(2), process, aborting.signal);
