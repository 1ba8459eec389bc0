/**
 * chrony's driftfile: the frequency (ppm, chrony's sign: positive = the
 * uncorrected clock is fast) and its skew (ppm), each printed right-aligned
 * in a 20-character field with 6 decimals. Pure functions: the daemon reads
 * the file and writes it atomically (temporary file + rename).
 *
 * Reading follows chronyd 4.3 exactly (checked by running it on each case,
 * see tests/interop/files_interop_test.ts): the file is read as C's
 * `fscanf("%lf%lf")` reads it, so white space (newlines too) may precede
 * each number, anything after the second number is ignored, numbers may be
 * hexadecimal floats, `inf`, `infinity` or `nan`, and an exponent marker
 * without digits (`1e`) is taken as no exponent. The frequency is then
 * limited to `maxdrift` (NaN counts as too large), a skew below 1e-6 ppm is
 * raised to it. Writing prints like C's `%20.6f` (`inf`, `nan`, `-0.000000`,
 * every digit of huge values), so what chronyd would write back, horae
 * writes back.
 *
 * @example
 * ```ts
 * import { formatDriftfile, parseDriftfile } from "./driftfile.ts";
 * const text = formatDriftfile({ frequency: -12.345678, skew: 0.042 });
 * parseDriftfile(text); // { frequency: -12.345678, skew: 0.042 }
 * ```
 * @module
 */

/** Frequency and skew as stored in the driftfile, ppm. */
export interface Drift {
  /** ppm, positive = the uncorrected clock is fast. */
  frequency: number;
  /** ppm, error bound of `frequency`. */
  skew: number;
  /**
   * The frequency is a NaN read as `-nan`: C prints it with its sign (a
   * JavaScript NaN keeps none once stored in an object).
   */
  negativeNanFrequency?: boolean;
  /** The skew is a NaN read as `-nan` (see `negativeNanFrequency`). */
  negativeNanSkew?: boolean;
}

/** A driftfile that does not start with two numbers. */
export class DriftfileError extends Error {
  override readonly name = "DriftfileError";
  constructor() {
    super("Could not read valid frequency and skew from driftfile");
  }
}

/** Smallest skew kept from a driftfile, ppm (chronyd 4.3 raises smaller ones to it). */
export const MIN_SKEW_PPM = 1e-6;

/** Skew of a clock whose frequency is not known at all, ppm (chronyd writes it without a driftfile). */
export const UNKNOWN_SKEW_PPM = 1e6;

const C_SPACE = " \t\n\v\f\r";
const DIGITS = "0123456789";
const HEX = "0123456789abcdefABCDEF";

function isIn(set: string, c: string | undefined): boolean {
  return c !== undefined && c !== "" && set.includes(c);
}

/**
 * One `%lf` conversion of glibc's scanf at `pos` of `text`: leading white
 * space, then the longest prefix that can start a number. Returns the value
 * and the position after it, or null for a matching failure (no number, or
 * a prefix that cannot be completed such as `0x`, `in`, `infin`, `.`).
 */
export function scanDouble(
  text: string,
  pos: number,
): { value: number; end: number; negative: boolean } | null {
  let i = pos;
  while (isIn(C_SPACE, text[i])) i++;
  let negative = false;
  if (text[i] === "+" || text[i] === "-") negative = text[i++] === "-";
  const sign = negative ? -1 : 1;
  const lower = text.slice(i, i + 8).toLowerCase();
  if (lower.startsWith("inf")) {
    i += 3;
    if ((text[i] ?? "").toLowerCase() === "i") {
      if (text.slice(i, i + 5).toLowerCase() !== "inity") return null;
      i += 5;
    }
    return { value: sign * Infinity, end: i, negative };
  }
  if (lower.startsWith("nan")) return { value: NaN, end: i + 3, negative };
  if (text[i] === "0" && (text[i + 1] === "x" || text[i + 1] === "X")) {
    const hex = scanHex(text, i + 2, sign);
    return hex && { ...hex, negative };
  }
  const start = i;
  while (isIn(DIGITS, text[i])) i++;
  let digits = i - start;
  if (text[i] === ".") {
    i++;
    const f = i;
    while (isIn(DIGITS, text[i])) i++;
    digits += i - f;
  }
  if (digits === 0) return null;
  let mantissa = text.slice(start, i);
  if (text[i] === "e" || text[i] === "E") {
    let j = i + 1;
    if (text[j] === "+" || text[j] === "-") j++;
    const e = j;
    while (isIn(DIGITS, text[j])) j++;
    // glibc consumes a marker without digits and ignores it.
    if (j > e) mantissa = `${mantissa}e${text.slice(i + 1, j)}`;
    i = j;
  }
  return { value: sign * Number(mantissa), end: i, negative };
}

function scanHex(text: string, i: number, sign: number): { value: number; end: number } | null {
  if (!isIn(HEX, text[i]) && text[i] !== ".") return null;
  let digits = "";
  let fraction = 0;
  while (isIn(HEX, text[i])) digits += text[i++];
  if (text[i] === ".") {
    i++;
    while (isIn(HEX, text[i])) {
      digits += text[i++];
      fraction++;
    }
  }
  let exponent = 0;
  if (text[i] === "p" || text[i] === "P") {
    let j = i + 1;
    let eNeg = false;
    if (text[j] === "+" || text[j] === "-") eNeg = text[j++] === "-";
    const e = j;
    while (isIn(DIGITS, text[j])) j++;
    if (j > e) exponent = (eNeg ? -1 : 1) * Math.min(Number(text.slice(e, j)), 1e6);
    i = j;
  }
  const mantissa = digits === "" ? 0n : BigInt(`0x${digits}`);
  const value = mantissa === 0n ? 0 : Number(mantissa) * 2 ** (exponent - 4 * fraction);
  return { value: sign * (Number.isNaN(value) ? 0 : value), end: i };
}

/**
 * Reads a driftfile as chronyd does (see the module doc). Values are as
 * written, not yet limited ({@link limitDrift}). Throws `DriftfileError`
 * when the file does not start with two numbers.
 */
export function parseDriftfile(text: string): Drift {
  const a = scanDouble(text, 0);
  const b = a ? scanDouble(text, a.end) : null;
  if (!a || !b) throw new DriftfileError();
  const drift: Drift = { frequency: a.value, skew: b.value };
  if (Number.isNaN(a.value) && a.negative) drift.negativeNanFrequency = true;
  if (Number.isNaN(b.value) && b.negative) drift.negativeNanSkew = true;
  return drift;
}

/**
 * chronyd's limits on a read drift: |frequency| at most `maxDrift` ppm (NaN
 * becomes +maxDrift) and skew at least {@link MIN_SKEW_PPM} (NaN and
 * infinity are kept). `exceeded` tells whether the frequency was limited.
 */
export function limitDrift(drift: Drift, maxDrift: number): { drift: Drift; exceeded: boolean } {
  let frequency = drift.frequency;
  let exceeded = false;
  if (!(Math.abs(frequency) <= maxDrift)) {
    exceeded = true;
    frequency = frequency < 0 ? -maxDrift : maxDrift;
  }
  const skew = drift.skew < MIN_SKEW_PPM ? MIN_SKEW_PPM : drift.skew;
  const limited: Drift = { frequency, skew };
  if (drift.negativeNanSkew) limited.negativeNanSkew = true;
  return { drift: limited, exceeded };
}

/**
 * C's `printf("%.Nf", x)`: `inf`, `-inf`, `nan`, a minus sign on negative
 * zero, and every integer digit of large values (JavaScript's toFixed
 * switches to exponent notation from 1e21).
 */
export function cFixed(x: number, digits: number, negativeNan = false): string {
  if (Number.isNaN(x)) return negativeNan ? "-nan" : "nan";
  if (x === Infinity) return "inf";
  if (x === -Infinity) return "-inf";
  const negative = x < 0 || Object.is(x, -0);
  const a = Math.abs(x);
  let text: string;
  if (a < 1e21) {
    text = a.toFixed(digits);
  } else {
    // Doubles this large are integers: BigInt gives their exact digits.
    text = BigInt(a).toString() + (digits > 0 ? "." + "0".repeat(digits) : "");
  }
  return negative ? `-${text}` : text;
}

/** The driftfile text: `%20.6f %20.6f\n` of frequency and skew (ppm), as chronyd writes it. */
export function formatDriftfile(drift: Drift): string {
  const frequency = cFixed(drift.frequency, 6, drift.negativeNanFrequency);
  const skew = cFixed(drift.skew, 6, drift.negativeNanSkew);
  return `${frequency.padStart(20)} ${skew.padStart(20)}\n`;
}

/** chronyd's log line after reading a driftfile (values as read). */
export function driftReadMessage(drift: Drift, path: string): string {
  const frequency = cFixed(drift.frequency, 3, drift.negativeNanFrequency);
  const skew = cFixed(drift.skew, 3, drift.negativeNanSkew);
  return `Frequency ${frequency} +/- ${skew} ppm read from ${path}`;
}

/** chronyd's log line when the read frequency (as read) is beyond `maxdrift`. */
export function driftExceededMessage(drift: Drift): string {
  return `Frequency ${
    cFixed(drift.frequency, 1, drift.negativeNanFrequency)
  } ppm exceeds allowed maximum`;
}
