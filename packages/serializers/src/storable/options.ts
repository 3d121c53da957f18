/** The options of `storable()`, and the parts of them that `nfreeze` and `thaw` take. */

export interface StorableOptions {
  /** Deepest nesting of arrays, hashes and references read or written (default 1000). */
  readonly maxDepth?: number;
  /**
   * How JS booleans are written: `'integers'` (default) as 1 and 0, which every Storable reads;
   * `'native'` as SX_BOOLEAN_TRUE/FALSE, which only Storable ≥ 3.27 (perl ≥ 5.38) reads.
   */
  readonly booleans?: 'integers' | 'native';
  /**
   * How numbers that are not safe integers are written (nfreeze has no double opcode, they are
   * strings): `'perl'` (default) exactly as Perl does, with 15 significant digits (`0.1 + 0.2` →
   * `"0.3"`); `'shortest'` as the shortest text that reads back as the same double.
   */
  readonly doubles?: 'perl' | 'shortest';
  /** Bytes after the frozen object: `'ignore'` them like Perl's `thaw` (default), or `'reject'`. */
  readonly trailingBytes?: 'ignore' | 'reject';
}

export type NfreezeOptions = Pick<StorableOptions, 'maxDepth' | 'booleans' | 'doubles'>;
export type ThawOptions = Pick<StorableOptions, 'maxDepth' | 'trailingBytes'>;

export const DEFAULT_MAX_DEPTH = 1000;
