/** Numbers as nfreeze writes them (test/fixtures/storable/FORMAT.md §4.4), and the range of Perl's integers. */

/** Perl's 64-bit integers: IVs down to −2⁶³, UVs up to 2⁶⁴−1. */
export const INT64_MIN = -(2n ** 63n);
export const UINT64_MAX = 2n ** 64n - 1n;

/** Perl's stringification of a double: C's `%.15g`, ties rounded to even as glibc does. */
export function perlDouble(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (!Number.isFinite(value)) return value > 0 ? 'Inf' : '-Inf';
  const magnitude = Math.abs(value);
  let rounded = magnitude.toExponential(14); // d.dddddddddddddde±x: 15 digits, ties away from zero
  const longer = magnitude.toExponential(15);
  if (longer[16] === '5' && isExactly(magnitude, longer)) {
    // An exact tie: round to even, which means keeping the truncation when its last digit is even.
    if ((longer.charCodeAt(15) - 48) % 2 === 0) rounded = longer.slice(0, 16) + longer.slice(17);
  }
  const e = rounded.indexOf('e');
  const digits = (rounded[0]! + rounded.slice(2, e)).replace(/0+$/, '');
  return (value < 0 ? '-' : '') + formatG(digits, Number(rounded.slice(e + 1)), 15);
}

/** `%.{precision}g` of the significant `digits` (no trailing zeros) times 10^exponent (of the first digit). */
function formatG(digits: string, exponent: number, precision: number): string {
  if (exponent < -4 || exponent >= precision) {
    const mantissa = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    const size = Math.abs(exponent);
    return `${mantissa}e${exponent < 0 ? '-' : '+'}${size < 10 ? '0' : ''}${size}`;
  }
  if (exponent < 0) return `0.${'0'.repeat(-exponent - 1)}${digits}`;
  const whole = digits.slice(0, exponent + 1).padEnd(exponent + 1, '0');
  const fraction = digits.slice(exponent + 1);
  return fraction === '' ? whole : `${whole}.${fraction}`;
}

const doubleBits = new DataView(new ArrayBuffer(8));

/** Whether the positive double equals the decimal in `exponential` (JS `toExponential` text) exactly. */
function isExactly(value: number, exponential: string): boolean {
  const e = exponential.indexOf('e');
  const fraction = exponential.slice(2, e);
  let decimal = BigInt(exponential[0]! + fraction);
  const decimalExponent = Number(exponential.slice(e + 1)) - fraction.length;
  doubleBits.setFloat64(0, value);
  const biased = (doubleBits.getUint32(0) >>> 20) & 0x7ff;
  let binary = (BigInt(doubleBits.getUint32(0) & 0xfffff) << 32n) | BigInt(doubleBits.getUint32(4));
  if (biased !== 0) binary |= 1n << 52n;
  const binaryExponent = (biased === 0 ? 1 : biased) - 1075;
  if (binaryExponent >= 0) binary <<= BigInt(binaryExponent);
  else decimal <<= BigInt(-binaryExponent);
  if (decimalExponent >= 0) decimal *= 10n ** BigInt(decimalExponent);
  else binary *= 10n ** BigInt(-decimalExponent);
  return binary === decimal;
}

/** The shortest text that reads back as the same double, in words Perl numifies. */
export function shortestDouble(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (!Number.isFinite(value)) return value > 0 ? 'Inf' : '-Inf';
  return String(value);
}
