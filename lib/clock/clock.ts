/**
 * The one interface the discipline (`Reference`) drives, implemented by
 * `SystemClock` (Linux adjtimex), `SimClock` (simulated) and `ReadOnlyClock`
 * (`-x`). It mirrors chrony's `local` layer: it keeps *raw* time (what the
 * kernel and every other program see) apart from *cooked* time (raw time
 * minus the correction that is still being slewed away), and tells
 * listeners when the clock's parameters change so stored sample times and
 * offsets can be corrected.
 *
 * Sign conventions (the same as `Sample.offset`):
 * - an *offset* is local clock minus true time: positive = the clock is fast;
 *   `accumulateOffset(+x)` and `step(+x)` take `x` seconds away from the clock.
 * - the absolute *frequency* is chrony's: ppm by which the clock would be fast
 *   if it were not corrected; the correction applied is its opposite, so a
 *   frequency of +10 ppm makes the clock run 10 ppm slower than uncorrected
 *   (`chronyc tracking` prints "10.000 ppm fast").
 *
 * @example
 * ```ts
 * import type { Clock } from "./clock.ts";
 * function correct(clock: Clock, offset: number): void {
 *   if (Math.abs(offset) > 1) clock.step(offset);
 *   else clock.accumulateOffset(offset, 1e-3);
 * }
 * ```
 * @module
 */
import type { Timestamp } from "../time/timestamp.ts";

/** Leap second to apply at the end of the current UTC day: +1 insert, -1 delete, 0 none. */
export type LeapAction = -1 | 0 | 1;

/** What a listener learns when the clock's parameters change. */
export interface ParameterChange {
  /** Cooked time at which the change took effect (after the change). */
  time: Timestamp;
  /**
   * Change of the cooked clock's rate, s/s: positive = the clock now gains
   * `dfreq` seconds per second more than before. A sample stored at cooked
   * time `t` with offset `o` becomes `o + dfreq * (t - time)`.
   */
  dfreq: number;
  /**
   * Change of (cooked clock minus true time), seconds: `step(+x)` and
   * `accumulateOffset(+x)` move the clock back, so `doffset` is `-x`. Stored
   * sample times and offsets both change by `doffset` (the same sign as
   * `ClockChange` in sourcestats.ts). A change has either `dfreq` or
   * `doffset`, never both.
   */
  doffset: number;
  /** True for a step (`step`), false for a slew or frequency change. */
  isStep: boolean;
}

/** Callback for parameter changes. */
export type ParameterChangeListener = (change: ParameterChange) => void;

/** The clock the discipline drives. */
export interface Clock {
  /** Largest absolute frequency `setFrequency` accepts, ppm (Linux: 100000 ppm). */
  readonly maxFrequency: number;
  /** Cooked time: raw time minus the remaining correction. */
  now(): Timestamp;
  /** Raw time, as the kernel and other programs see it. */
  rawNow(): Timestamp;
  /** Current absolute frequency, ppm, chrony's sign (positive = corrected to run slower). */
  readFrequency(): number;
  /** Sets the absolute frequency, ppm (clamped to ±maxFrequency); returns what was set. */
  setFrequency(ppm: number): number;
  /**
   * Starts slewing `offset` seconds away (positive = clock fast, it is slowed)
   * on top of any correction in progress. The slew lasts about
   * `correctionRate / |offset|` seconds (`correctionRate` in s², from
   * corrtimeratio), never faster than the clock's maxslewrate.
   */
  accumulateOffset(offset: number, correctionRate: number): void;
  /**
   * Steps the cooked clock by `-offset` seconds (positive = clock fast, moved
   * back). The slew in progress is stepped away with it, so afterwards raw
   * and cooked time agree.
   */
  step(offset: number): void;
  /** Correction still to be slewed, seconds (positive = the clock is still fast by that much). */
  remainingCorrection(): number;
  /**
   * How far the system clock, as other programs read it, is from cooked time,
   * seconds (positive = fast): what `tracking` calls System time. Absent, it
   * is `remainingCorrection()`; the read-only clock of `-x` also counts what
   * it corrected only on its virtual copy (chronyd -x reports it so).
   */
  systemClockOffset?(): number;
  /** Arms (or clears) a leap second at the end of the current UTC day. */
  setLeap(leap: LeapAction): void;
  /**
   * Tells the kernel whether the clock is synchronised and its estimated and
   * maximum errors, seconds (Linux: STA_UNSYNC, esterror, maxerror; rtcsync).
   */
  setSyncStatus(synced: boolean, estError: number, maxError: number): void;
  /**
   * Lets the clock end or re-plan a slew. Returns the raw time at which it
   * wants to be called again (the daemon arms a timer), or null if nothing is
   * pending. Calling it early or late is harmless: the slew is re-measured.
   */
  tick(): Timestamp | null;
  /** Registers a listener; returns a function that removes it. */
  onParameterChange(listener: ParameterChangeListener): () => void;
}
