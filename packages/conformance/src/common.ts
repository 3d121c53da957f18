import { randomBytes } from 'node:crypto';
import { test } from '@jest/globals';

/** What every suite takes: a name for the report, and a factory that makes a fresh part. */
export interface SuiteOptions<Part> {
  /** Shown in the test names, e.g. 'mysqlStore'. */
  name: string;
  /**
   * Makes the part under test. Called once when the suite is declared, so that its declared
   * capabilities decide which tests run; parts connect lazily, so this does no I/O.
   */
  factory: () => Part;
  /**
   * A reason to skip the whole suite (a server that is not reachable, from `serviceUnavailable`).
   * The skip shows in the report with its reason.
   */
  skip?: string | undefined;
}

/**
 * 32 random hex characters: valid for every built-in generator's store layout and for Perl's
 * `char(32)` id column, and unique, so suites can share a live database with other data.
 */
export function freshId(): string {
  return randomBytes(16).toString('hex');
}

type TestFunction = (name: string, fn: () => Promise<unknown> | void, timeout?: number) => void;

/** `test`, or a visible skip that carries the reason in its name. */
export function testOrSkip(skip: string | undefined): TestFunction {
  if (skip === undefined) return test;
  return (name) => test.skip(`${name} — skipped: ${skip}`, () => {});
}

/** `test` when the part declares `capability`, else a skip saying which capability it lacks. */
export function testIf(skip: string | undefined, capability: boolean, lacking: string): TestFunction {
  return testOrSkip(skip ?? (capability ? undefined : `the part declares ${lacking}`));
}

/**
 * Tells whether a server a test needs is reachable. Returns `undefined` when it is, else the reason
 * to skip; with `TIED_REQUIRE_SERVICES=1` (CI) an unreachable server throws instead, failing the run.
 */
export async function serviceUnavailable(service: string, probe: () => Promise<unknown>): Promise<string | undefined> {
  try {
    await probe();
    return undefined;
  } catch (error) {
    const reason = `${service} unreachable (${(error as Error).message})`;
    if (process.env.TIED_REQUIRE_SERVICES === '1') {
      throw new Error(`${reason}, and TIED_REQUIRE_SERVICES=1 requires it`, { cause: error });
    }
    return reason;
  }
}

/** The bytes of a payload, whatever form the store returned it in. */
export function bytesOf(data: string | Uint8Array): Buffer {
  return typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

/** Resolves with the rejection of `promise`, or fails when it fulfils. */
export async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection, but the promise fulfilled');
}
