/**
 * Temperature compensation (chrony.conf(5) `tempcomp`), sans-IO: the
 * compensation in ppm from a sensor reading, with either the coefficients
 * form `comp = k0 + (T - T0)·k1 + (T - T0)²·k2` or a points file
 * (temperature, compensation) interpolated linearly between neighbours and
 * extrapolated from the two nearest points outside them. A result beyond
 * ±10 ppm is not applied ({@link TEMPCOMP_LIMIT}, with chronyd 4.3's words).
 *
 * The compensation makes the clock run faster by `comp` ppm than the
 * frequency the discipline sets: {@link attachTempComp} puts it between the
 * discipline and the clock, so `readFrequency` still answers the discipline's
 * own value (what `tracking` shows, as chronyd) while the clock runs at the
 * combination `(1 - f)(1 + c)`; a change of the compensation is a frequency
 * change of the clock like any other (its listeners are told).
 *
 * @example
 * ```ts
 * import { compensation, parseSensor } from "./tempcomp.ts";
 * const t = parseSensor("28000\n")!; // 28000
 * compensation({ t0: 26000, k0: 0, k1: 0.000183, k2: 0 }, t); // 0.366
 * ```
 * @module
 */
import type { Clock } from "./clock.ts";

/** Largest compensation applied, ppm (chrony.conf(5)). */
export const TEMPCOMP_LIMIT = 10;

/** The coefficients form. */
export interface TempCoefficients {
  t0: number;
  k0: number;
  k1: number;
  k2: number;
}

/** One (temperature, compensation ppm) point of a points file. */
export interface TempPoint {
  temp: number;
  comp: number;
}

/** The points file could not be read (chronyd: fatal at start-up). */
export class TempCompError extends Error {}

/** A leading decimal number, as C's `sscanf("%lf")` reads it. */
const NUMBER = /^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)/;

/** The temperature in a sensor file's text (its leading number), or null. */
export function parseSensor(text: string): number | null {
  const m = NUMBER.exec(text);
  if (m === null) return null;
  const v = Number(m[1]);
  return Number.isFinite(v) ? v : null;
}

/**
 * The points of a points file: one `temperature compensation` pair a line
 * (a blank line is an error, as in chronyd 4.3). Throws {@link TempCompError} with chronyd's words
 * for a line that is not a pair, or fewer than two points.
 */
export function parseTempCompPoints(text: string, path: string): TempPoint[] {
  const points: TempPoint[] = [];
  const lines = text.split("\n");
  if (lines.at(-1) === "") lines.pop(); // the end of the last line
  for (const line of lines) {
    const m = /^\s*(\S+)\s+(\S+)/.exec(line);
    const temp = m ? parseSensor(m[1]!) : null;
    const comp = m ? parseSensor(m[2]!) : null;
    if (temp === null || comp === null) {
      throw new TempCompError(`Could not read tempcomp point from ${path}`);
    }
    points.push({ temp, comp });
  }
  if (points.length < 2) throw new TempCompError(`Not enough points in ${path}`);
  return points.sort((a, b) => a.temp - b.temp);
}

/** The compensation (ppm) at temperature `temp`, before the limit check. */
export function compensation(form: TempCoefficients | readonly TempPoint[], temp: number): number {
  if (!Array.isArray(form)) {
    const c = form as TempCoefficients;
    const d = temp - c.t0;
    return c.k0 + d * c.k1 + d * d * c.k2;
  }
  const pts = form as readonly TempPoint[];
  // the segment holding temp, or the nearest one outside the range
  let i = 1;
  while (i < pts.length - 1 && temp > pts[i]!.temp) i++;
  const a = pts[i - 1]!, b = pts[i]!;
  if (b.temp === a.temp) return a.comp;
  return a.comp + ((temp - a.temp) * (b.comp - a.comp)) / (b.temp - a.temp);
}

/** chronyd's warning for a compensation beyond the limit, or null if it may be applied. */
export function compensationProblem(comp: number): string | null {
  if (Number.isFinite(comp) && Math.abs(comp) <= TEMPCOMP_LIMIT) return null;
  return `Temperature compensation of ${comp.toFixed(3)} ppm exceeds sanity limit of ${
    TEMPCOMP_LIMIT.toFixed(1)
  }`;
}

/** The clock's frequency (chrony's sign, ppm) that runs like `freq` compensated by `comp`. */
export function combinedFrequency(freq: number, comp: number): number {
  return freq - comp + freq * comp * 1e-6;
}

/** Inverse of {@link combinedFrequency}: the discipline's frequency from the clock's. */
export function uncompensatedFrequency(combined: number, comp: number): number {
  return (combined + comp) / (1 + comp * 1e-6);
}

/**
 * Puts the compensation between the discipline and `clock` (its
 * `readFrequency`/`setFrequency` are replaced); returns the setter of the
 * compensation in ppm (positive: the clock runs faster).
 */
export function attachTempComp(clock: Clock): (ppm: number) => void {
  const read = clock.readFrequency.bind(clock);
  const set = clock.setFrequency.bind(clock);
  let comp = 0;
  clock.readFrequency = () => uncompensatedFrequency(read(), comp);
  clock.setFrequency = (ppm) => uncompensatedFrequency(set(combinedFrequency(ppm, comp)), comp);
  return (ppm) => {
    if (ppm === comp) return;
    const freq = uncompensatedFrequency(read(), comp);
    comp = ppm;
    set(combinedFrequency(freq, comp));
  };
}
