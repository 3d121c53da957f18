// Node 20 adds Symbol.dispose and Symbol.asyncDispose to its main realm only; jest runs each test file
// in a vm context whose Symbol lacks them, so `await using` would fail there but not in real use.
for (const name of ['dispose', 'asyncDispose']) {
  if (typeof Symbol[name] !== 'symbol') {
    Object.defineProperty(Symbol, name, { value: Symbol(`Symbol.${name}`), writable: false, enumerable: false, configurable: false });
  }
}
