/**
 * The little the suites need from a test runner. jest's `@jest/globals`, `vitest` and `node:test`
 * each have it under these names, so a suite takes the runner's module namespace as it is
 * (`import * as runner from 'vitest'`), as keyv's test suite does. Assertions are `node:assert`,
 * so no runner has to supply `expect`.
 */
export interface TestRunner {
  describe(name: string, body: () => void): unknown;
  test: {
    (name: string, body: () => Promise<void>): unknown;
    skip(name: string, body: () => Promise<void>): unknown;
  };
  /** jest and vitest. */
  afterAll?(hook: () => Promise<void>): unknown;
  /** node:test (and mocha). */
  after?(hook: () => Promise<void>): unknown;
}

/** Registers `hook` to run once after the tests of the enclosing `describe`. */
export function afterAllOf(runner: TestRunner): (hook: () => Promise<void>) => void {
  const after = runner.afterAll ?? runner.after;
  if (typeof after !== 'function') throw new TypeError('The test runner given to a conformance suite has neither afterAll (jest, vitest) nor after (node:test)');
  return (hook) => { after(hook); };
}

/**
 * The runner's own `test` when `skip` is undefined, else a visible skip that carries the reason in
 * its name. Arguments after the name (a timeout, node:test's options) go to the runner untouched.
 */
export function testOrSkip<Runner extends TestRunner>(runner: Runner, skip: string | undefined): Runner['test'] {
  if (skip === undefined) return runner.test;
  const skipped = (name: string) => runner.test.skip(`${name} — skipped: ${skip}`, async () => {});
  return skipped as unknown as Runner['test'];
}

/** `testOrSkip` when the part declares `capability`, else a skip saying which capability it lacks. */
export function testIf<Runner extends TestRunner>(runner: Runner, skip: string | undefined, capability: boolean, lacking: string): Runner['test'] {
  return testOrSkip(runner, skip ?? (capability ? undefined : `the part declares ${lacking}`));
}
