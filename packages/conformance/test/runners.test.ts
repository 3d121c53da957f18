import { describe, expect, test } from '@jest/globals';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

// The memory parts' suites (fixtures/memory-suites.mjs) run as a user's project runs them: a child
// process of node:test or vitest importing the BUILT packages (`npm test` builds them first), each
// through its adapter (@tied/conformance/node-test, @tied/conformance/vitest).
const fixtures = fileURLToPath(new URL('./fixtures/', import.meta.url));
const repository = fileURLToPath(new URL('../../../', import.meta.url));

/** What the fixture declares: 68 tests, of which 18 skip for capabilities the parts lack (or on purpose). */
const EXPECTED = { tests: 68, passed: 50, failed: 0, skipped: 18 };
const SKIPPED_ON_PURPOSE = 'a test skipped with its reason — skipped: a reason to skip';

/** Runs a command to its end, whatever its exit code, and gives back its output. */
function run(command: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(command, args, { cwd: repository, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr });
    });
  });
}

describe('the suites under other test runners', () => {
  test('node --test runs the memory parts\' suites: every test passes or skips with its reason', async () => {
    const { code, stdout, stderr } = await run(process.execPath, ['--test', '--test-reporter=tap', join(fixtures, 'node-test.mjs')]);
    const count = (name: string) => Number(new RegExp(`^# ${name} (\\d+)$`, 'm').exec(stdout)?.[1]);
    expect({ code, tests: count('tests'), passed: count('pass'), failed: count('fail'), skipped: count('skipped') })
      .toEqual({ code: 0, ...EXPECTED });
    expect(stdout).toContain(`${SKIPPED_ON_PURPOSE} # SKIP`);
    expect(stderr).toBe('');
  });

  test('vitest runs the memory parts\' suites: every test passes or skips with its reason', async () => {
    const output = mkdtempSync(join(tmpdir(), 'conformance-vitest-'));
    try {
      const report = join(output, 'report.json');
      const { code, stderr } = await run('npx', ['--no', 'vitest', 'run', '--config', join(fixtures, 'vitest.config.mjs'), '--reporter=json', `--outputFile=${report}`]);
      const result = JSON.parse(readFileSync(report, 'utf8')) as {
        numTotalTests: number; numPassedTests: number; numFailedTests: number; numPendingTests: number;
        testResults: { assertionResults: { title: string; status: string }[] }[];
      };
      expect({ code, tests: result.numTotalTests, passed: result.numPassedTests, failed: result.numFailedTests, skipped: result.numPendingTests })
        .toEqual({ code: 0, ...EXPECTED });
      const titles = result.testResults.flatMap((file) => file.assertionResults.map((test) => `${test.status}: ${test.title}`));
      expect(titles).toContain(`skipped: ${SKIPPED_ON_PURPOSE}`);
      expect(stderr).not.toMatch(/Error/);
    } finally {
      rmSync(output, { recursive: true, force: true });
    }
  });
});
