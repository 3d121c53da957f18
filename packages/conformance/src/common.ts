import { randomBytes } from 'node:crypto';
import assert from 'node:assert/strict';

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

/** Asserts that `value` is an instance of `type`, naming what it was instead. */
export function assertInstanceOf<T>(value: unknown, type: abstract new (...args: never[]) => T, context = ''): asserts value is T {
  if (value instanceof type) return;
  const found = value instanceof Error ? `${value.name}: ${value.message}` : typeof value === 'object' && value !== null ? `an instance of ${value.constructor?.name}` : String(value);
  assert.fail(`${context ? `${context}: ` : ''}expected a ${type.name}, got ${found}`);
}

/** Resolves with the rejection of `promise`, asserting that it is a `type`. */
export async function rejectsWith<T>(promise: Promise<unknown>, type: abstract new (...args: never[]) => T, context = ''): Promise<T> {
  let error: unknown;
  try {
    await promise;
    assert.fail(`${context ? `${context}: ` : ''}expected a ${type.name}, but the promise fulfilled`);
  } catch (caught) {
    if (caught instanceof assert.AssertionError) throw caught;
    error = caught;
  }
  assertInstanceOf(error, type, context);
  return error;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Settles to 'granted' or 'waiting' after `ms`, without giving up the acquire. */
export async function stateAfter(acquiring: Promise<unknown>, ms: number): Promise<'granted' | 'waiting'> {
  return Promise.race([acquiring.then(() => 'granted' as const), sleep(ms).then(() => 'waiting' as const)]);
}
