import type { Flavor } from '@tied/core';
import { parseDuration } from './duration.js';
import { CliError, EXIT, exitCodeOf, messageOf } from './exit-codes.js';
import type { Streams } from './output.js';
import { openStore } from './store-url.js';

/** Open options that bound the wait for a lock. */
export interface Waiting {
  lockTimeout: number;
  signal: AbortSignal;
}

/** The options every subcommand inherits from `tied`. */
export interface GlobalOptions {
  store?: string;
  serializer?: string;
  locker?: string;
  generator?: string;
  lockTimeout: string;
  verbose?: boolean;
}

/** What a subcommand runs with: the streams, the global options, a way to reach the store. */
export class Context {
  /** `signal` is aborted on SIGINT/SIGTERM, so long work stops between two sessions and reports what it did. */
  constructor(readonly streams: Streams, readonly options: GlobalOptions, readonly signal: AbortSignal) {}

  /** How a session's lock is waited for: --lock-timeout, and no longer than until SIGINT/SIGTERM. */
  get waiting(): Waiting {
    return { lockTimeout: parseDuration(this.options.lockTimeout, '--lock-timeout'), signal: this.signal };
  }

  /** Opens the store named by --store / TIED_STORE, runs `fn`, and closes the store's connections. */
  async withStore<R>(fn: (flavor: Flavor, shown: string) => Promise<R>): Promise<R> {
    if (!this.options.store) {
      throw new CliError('No store: give --store URL or set TIED_STORE (file:///path, mysql://…, postgres://…, redis://…)', EXIT.usage);
    }
    const opened = await openStore({
      store: this.options.store, serializer: this.options.serializer, locker: this.options.locker, generator: this.options.generator,
    });
    try {
      return await fn(opened.flavor, opened.shown);
    } catch (error) {
      if (exitCodeOf(error) !== EXIT.unreachable) throw error;
      throw new CliError(`Cannot reach the store ${opened.shown}: ${messageOf(error)}`, EXIT.unreachable, { cause: error });
    } finally {
      await opened.close();
    }
  }
}

/** A positive integer option such as --limit or --batch-size. */
export function positiveInteger(option: string) {
  return (text: string): number => {
    const value = Number(text);
    if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(value) || value < 1) {
      throw new CliError(`${option}: "${text}" is not a positive integer`, EXIT.usage);
    }
    return value;
  };
}
