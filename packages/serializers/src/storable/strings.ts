/** Perl's view of JS strings: byte strings (every character ≤ U+00FF) and Perl's `cmp` order. */

/** Whether `value` has a character above U+00FF, so that it is not a Perl byte string. */
export function hasWideChar(value: string): boolean {
  for (let i = 0; i < value.length; i++) if (value.charCodeAt(i) > 0xff) return true;
  return false;
}

/**
 * Perl's `cmp` (`$Storable::canonical`): code point order. That is UTF-16 order except where a
 * surrogate meets U+E000..U+FFFF, which the fix-up below moves below the surrogates.
 */
export function compareCodePoints(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x !== y) {
      if (x >= 0xd800 && y >= 0xd800) {
        x += x >= 0xe000 ? -0x800 : 0x2000;
        y += y >= 0xe000 ? -0x800 : 0x2000;
      }
      return x - y;
    }
  }
  return a.length - b.length;
}
