import assert from 'node:assert/strict';
import { InvalidSessionIdError, type Generator } from '@tied/core';
import { assertInstanceOf, type SuiteOptions } from './common.js';
import { testOrSkip, type TestRunner } from './runner.js';

export interface GeneratorSuiteOptions extends SuiteOptions<Generator> {
  /** How many ids the uniqueness test makes (default 100,000). */
  count?: number;
}

/** Ids no generator may accept: they would be paths, injections or resource exhaustion. */
export const hostileIds: readonly unknown[] = [
  undefined, null, 42, 0, true, {}, [], ['abc'], Symbol('id'),
  '', ' ', '.', '..', '../', '../../etc/passwd', '..\\..\\windows', 'a/b', '/etc/passwd', 'a\\b',
  'abc\0def', '\0', "x' OR '1'='1", 'id with spaces', 'ünïcödé', '\n',
  'a'.repeat(10_000), '0'.repeat(10_000), 'f'.repeat(100_000),
];

/** The contract every Generator keeps: unique ids it accepts itself, and hostile ids refused. */
export function generatorSuite(runner: TestRunner, options: GeneratorSuiteOptions): void {
  const { name, skip } = options;
  runner.describe(`${name} (generator conformance)`, () => {
    const generator: Generator = skip === undefined ? options.factory() : undefined!;
    const test = testOrSkip(runner, skip);
    const count = options.count ?? 100_000;

    test(`${count.toLocaleString('en')} generated ids are unique and each passes validate`, async () => {
      const seen = new Set<string>();
      for (let i = 0; i < count; i++) {
        const id = generator.generate();
        generator.validate(id);
        seen.add(id);
      }
      assert.equal(seen.size, count);
    });

    test('hostile ids are refused with InvalidSessionIdError', async () => {
      for (const id of hostileIds) {
        let thrown: unknown;
        try {
          generator.validate(id);
        } catch (error) {
          thrown = error;
        }
        assertInstanceOf(thrown, InvalidSessionIdError, `validate(${String(typeof id === 'symbol' ? id.toString() : id).slice(0, 20)})`);
      }
    });

    test('a refusal message says what was expected and never echoes a huge id', async () => {
      try {
        generator.validate('z'.repeat(10_000));
      } catch (error) {
        assert.ok((error as Error).message.length < 300, `a ${(error as Error).message.length}-character message`);
        return;
      }
      throw new Error('a 10 kB id was accepted');
    });
  });
}
