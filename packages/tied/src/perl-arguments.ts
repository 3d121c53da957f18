/**
 * Apache::Session's own argument names, accepted beside ours so a Perl configuration carries over.
 * Perl passes a database handle for the store and another for the lock; tied's store and locker
 * share one pool, so `Handle` and `LockHandle` both mean `pool` (and must then be the same pool).
 */
const PERL_ARGUMENT_NAMES: Readonly<Record<string, string>> = {
  Store: 'store', Lock: 'lock', Generate: 'generate', Serialize: 'serialize',
  Directory: 'directory', LockDirectory: 'lockDirectory', TableName: 'table', IDLength: 'length',
  Transaction: 'transaction', Handle: 'pool', LockHandle: 'pool',
};

/** Our name for an argument, and its value (Perl's `Transaction => 1` is a boolean). */
export function ourArgument(key: string, value: unknown): [string, unknown] {
  const name = PERL_ARGUMENT_NAMES[key];
  if (name === undefined) return [key, value];
  return [name, name === 'transaction' ? Boolean(value) : value];
}
