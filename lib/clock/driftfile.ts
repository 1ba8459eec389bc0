/**
 * chrony's driftfile: one line with the frequency (ppm, chrony's sign:
 * positive = the uncorrected clock is fast) and its skew (ppm), each printed
 * right-aligned in a 20-character field with 6 decimals. Pure functions: the
 * daemon reads the file and writes it atomically (temporary file + rename).
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
}

/** A driftfile that does not hold a frequency and a skew. */
export class DriftfileError extends Error {
  override readonly name = "DriftfileError";
  /** The text that could not be read (first line). */
  readonly line: string;
  constructor(line: string) {
    super(`Could not read valid frequency and skew from driftfile: ${JSON.stringify(line)}`);
    this.line = line;
  }
}

/** Largest frequency accepted from a driftfile, ppm: beyond this the file is corrupt (our choice). */
const MAX_DRIFT_PPM = 1e6;

/** Reads the first line of a driftfile. Throws `DriftfileError` if it is not two finite numbers. */
export function parseDriftfile(text: string): Drift {
  const line = text.split("\n", 1)[0] ?? "";
  const fields = line.trim().split(/\s+/);
  const number = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
  if (fields.length < 2 || !number.test(fields[0]!) || !number.test(fields[1]!)) {
    throw new DriftfileError(line);
  }
  const frequency = Number(fields[0]), skew = Number(fields[1]);
  if (Math.abs(frequency) > MAX_DRIFT_PPM || skew < 0) throw new DriftfileError(line);
  return { frequency, skew };
}

/** The driftfile text: `%20.6f %20.6f\n` of frequency and skew (ppm), as chronyd writes it. */
export function formatDriftfile(drift: Drift): string {
  return `${drift.frequency.toFixed(6).padStart(20)} ${drift.skew.toFixed(6).padStart(20)}\n`;
}
