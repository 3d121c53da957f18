/**
 * On a terminal: ls prints a table, show colours, purge draws a progress bar on stderr. The command
 * runs under script(1), which gives it a pseudo-terminal.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect } from '@jest/globals';
import { testOrSkip } from '@tied/conformance/jest';
import { BIN, runTied } from './run-tied.js';

const run = promisify(execFile);
const root = mkdtempSync(join(tmpdir(), 'cli-tty-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

// util-linux script(1); a visible skip where it is missing.
const skip = await run('script', ['--version']).then(() => undefined, () => 'script(1) from util-linux is not installed');

/** Runs tied on a pseudo-terminal; stdout and stderr arrive mixed, lines end in \r\n. */
async function onTerminal(args: string[], env: Record<string, string> = {}): Promise<string> {
  const quoted = [process.execPath, BIN, ...args].map((arg) => `'${arg.replaceAll("'", "'\\''")}'`).join(' ');
  const { stdout } = await run('script', ['-qec', quoted, '/dev/null'], { env: { ...process.env, NO_COLOR: '', ...env } });
  return stdout.replaceAll('\r\n', '\n');
}

describe('tied on a terminal', () => {
  const it = testOrSkip(skip);

  it('ls prints a table with a header, show colours (not with NO_COLOR), purge shows progress', async () => {
    const store = `file://${join(root, 'sessions')}`;
    const id = (await runTied(['--store', store, 'new', '--set', 'user.name="Ann"'])).stdout.trim();

    expect(await onTerminal(['--store', store, 'ls'])).toMatch(new RegExp(`^ID +UPDATED +SIZE\\n${id}  \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\dZ  \\d+\\n$`));
    expect(await onTerminal(['--store', store, 'show', id])).toBe("{ user: { name: \x1b[32m'Ann'\x1b[39m } }\n");
    expect(await onTerminal(['--store', store, 'show', id], { NO_COLOR: '1' })).toBe("{ user: { name: 'Ann' } }\n");

    const purge = await onTerminal(['--store', store, 'purge', '--older-than', '0s']);
    expect(purge).toContain('purging: 1 done (');
    expect(purge).toMatch(/purged 1 session not saved for 0s\n$/);
  });
});
