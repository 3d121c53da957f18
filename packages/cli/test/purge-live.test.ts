/**
 * `tied purge` on a file store of 100,000 old sessions while another process keeps creating
 * sessions and saving old ones: the other process never fails, and no session it saved is lost.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, test } from '@jest/globals';
import { runTied } from './run-tied.js';

const OLD_SESSIONS = 100_000;
const root = mkdtempSync(join(tmpdir(), 'cli-purge-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

test(`purge of ${OLD_SESSIONS.toLocaleString('en')} old file sessions in batches while another process opens sessions`, async () => {
  const directory = join(root, 'sessions');
  mkdirSync(directory, { mode: 0o700 });
  const forty = (Date.now() - 40 * 86_400_000) / 1000;
  for (let i = 0; i < OLD_SESSIONS; i++) {
    const path = join(directory, `old${String(i).padStart(18, '0')}`);
    writeFileSync(path, '{"json":{"n":0}}', { mode: 0o600 });
    utimesSync(path, forty, forty);
  }
  const url = `file://${directory}`;

  const opener = spawn(process.execPath, [new URL('./fixtures/opener.mjs', import.meta.url).pathname, url, String(OLD_SESSIONS)], { stdio: ['pipe', 'pipe', 'pipe'] });
  let openerOut = '';
  let openerErr = '';
  opener.stdout.setEncoding('utf8').on('data', (chunk: string) => { openerOut += chunk; });
  opener.stderr.setEncoding('utf8').on('data', (chunk: string) => { openerErr += chunk; });
  const openerExit = new Promise<number | null>((resolve) => opener.on('close', resolve));

  let purge;
  try {
    purge = await runTied(['--store', url, 'purge', '--older-than', '30d', '--batch-size', '1000', '--json']);
  } finally {
    opener.stdin.end();
  }
  expect(await openerExit).toBe(0);
  expect(openerErr).toBe('');
  expect(purge.stderr).toBe('');
  expect(purge.code).toBe(0);

  const summary = JSON.parse(purge.stdout) as { purged: number; skipped: number };
  const { created, savedOld, goneOld, cycles } = JSON.parse(openerOut) as { created: string[]; savedOld: string[]; goneOld: number; cycles: number };
  // The two overlapped: the other process saved old sessions before purge reached them, and found others gone.
  expect(savedOld.length).toBeGreaterThan(0);
  expect(goneOld).toBeGreaterThan(0);
  const left = new Set(readdirSync(directory).filter((name) => !name.endsWith('.lock')));
  // Every session the other process created or saved is still there; every other old one is gone.
  for (const id of created) expect(left.has(id)).toBe(true);
  for (const id of savedOld) expect(left.has(id)).toBe(true);
  expect(left.size).toBe(new Set(created).size + savedOld.length);
  expect(summary.purged).toBe(OLD_SESSIONS - savedOld.length);
  // Its lock files went with the sessions: only those of the sessions left, at most, remain.
  expect(readdirSync(directory).filter((name) => name.endsWith('.lock')).length).toBeLessThanOrEqual(left.size + goneOld);
}, 240_000);
