import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository's examples folder, wherever the checkout sits. */
export const examplesDirectory = fileURLToPath(new URL('../../../../examples/', import.meta.url));

export interface RunningExample {
  url: string;
  /** The example's session directory (TIED_DIRECTORY), a fresh temporary one. */
  directory: string;
  /** Session files in it (lock files left aside). */
  sessionFiles(): string[];
  stop(): Promise<void>;
}

/** Starts `examples/<name>.mjs` on a free port with its own session directory; resolves once it prints its URL. */
export function startExample(name: string): Promise<RunningExample> {
  const directory = mkdtempSync(join(tmpdir(), `http-example-${name}-`));
  const child: ChildProcess = spawn(process.execPath, [join(examplesDirectory, `${name}.mjs`)], {
    env: { ...process.env, PORT: '0', TIED_DIRECTORY: directory },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill();
    await exited;
    rmSync(directory, { recursive: true, force: true });
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { void stop(); reject(new Error(`${name}.mjs printed no URL in 15 s: ${output}`)); }, 15_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const url = /http:\/\/127\.0\.0\.1:\d+/.exec(output)?.[0];
      if (!url) return;
      clearTimeout(timer);
      resolve({
        url,
        directory,
        sessionFiles: () => readdirSync(directory).filter((file) => !file.endsWith('.lock')),
        stop,
      });
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (chunk: Buffer) => { output += chunk.toString(); });
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`${name}.mjs exited with ${code}: ${output}`)); });
  });
}
