/**
 * Apache::Session's own argument names, accepted beside ours so a Perl configuration carries over.
 * Perl passes a database handle for the store and another for the lock; tied's store and locker
 * share one pool, so `Handle` and `LockHandle` both mean `pool` (and must then be the same pool).
 * A Map, so that an argument named `toString` is not taken for one of Object.prototype's.
 */
const PERL_ARGUMENT_NAMES: ReadonlyMap<string, string> = new Map(Object.entries({
  Store: 'store', Lock: 'lock', Generate: 'generate', Serialize: 'serialize',
  Directory: 'directory', LockDirectory: 'lockDirectory', TableName: 'table', IDLength: 'length',
  Transaction: 'transaction', Handle: 'pool', LockHandle: 'pool',
}));

/** Our name for an argument. */
export function ourName(key: string): string {
  return PERL_ARGUMENT_NAMES.get(key) ?? key;
}

/** The value of an argument as we take it: Perl's `Transaction => 1` is `transaction: true`. */
export function ourValue(givenKey: string, value: unknown): unknown {
  return givenKey === 'Transaction' ? Boolean(value) : value;
}
