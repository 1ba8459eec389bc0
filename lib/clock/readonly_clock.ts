/**
 * The clock for `chronyd -x`: wraps any `Clock` and never calls its setters.
 * Frequency changes, slews and steps are applied to a *virtual* clock derived
 * from the wrapped clock's raw time, so the discipline and the measurements
 * behave as if the clock were corrected. `chronyc tracking`'s System time
 * (`systemClockOffset`) still tells how far the real clock is from that
 * estimate, as chronyd -x does. Leap and sync status are only recorded.
 *
 * @example
 * ```ts
 * import { ReadOnlyClock } from "./readonly_clock.ts";
 * import type { Clock } from "./clock.ts";
 * function virtualOf(system: Clock) {
 *   const clock = new ReadOnlyClock(system);
 *   clock.step(0.5); // the virtual clock moves back 0.5 s; `system` is untouched
 * }
 * ```
 * @module
 */
import { diffSeconds, type Timestamp } from "../time/timestamp.ts";
import type { Clock, LeapAction } from "./clock.ts";
import { type ClockDriver, SlewingClock, type SlewingClockOptions } from "./slewing_clock.ts";

/** A driver whose raw time is the wrapped clock's raw time, virtually corrected. */
class VirtualDriver implements ClockDriver {
  readonly maxFrequency: number;
  readonly #inner: Clock;
  /** The wrapped clock's frequency at start, ppm: the virtual correction is relative to it. */
  readonly #innerFrequency: number;
  #frequency: number;
  /** Inner raw time and virtual raw time at the last change. */
  #anchorInner: Timestamp;
  #anchorVirtual: Timestamp;
  leap: LeapAction = 0;
  sync = { synced: false, estError: 0, maxError: 0 };

  constructor(inner: Clock) {
    this.#inner = inner;
    this.maxFrequency = inner.maxFrequency;
    this.#innerFrequency = inner.readFrequency();
    this.#frequency = this.#innerFrequency;
    this.#anchorInner = inner.rawNow();
    this.#anchorVirtual = this.#anchorInner;
  }

  readRaw(): Timestamp {
    return this.#virtualAt(this.#inner.rawNow());
  }

  /** Wrapped clock's raw time minus virtual raw time, seconds, read at one moment. */
  innerAhead(): number {
    const inner = this.#inner.rawNow();
    return diffSeconds(inner, this.#virtualAt(inner));
  }

  readFrequency(): number {
    return this.#frequency;
  }

  setFrequency(ppm: number): number {
    const inner = this.#inner.rawNow();
    this.#anchorVirtual = this.#virtualAt(inner);
    this.#anchorInner = inner;
    this.#frequency = Math.min(this.maxFrequency, Math.max(-this.maxFrequency, ppm));
    return this.#frequency;
  }

  applyStep(offset: number): void {
    const inner = this.#inner.rawNow();
    this.#anchorVirtual = this.#virtualAt(inner) - BigInt(Math.round(offset * 1e9));
    this.#anchorInner = inner;
  }

  setLeap(leap: LeapAction): void {
    this.leap = leap;
  }

  setSyncStatus(synced: boolean, estError: number, maxError: number): void {
    this.sync = { synced, estError, maxError };
  }

  /** Virtual raw time: runs at (1 - f) / (1 - f0) of the inner clock's rate. */
  #virtualAt(inner: Timestamp): Timestamp {
    const elapsed = diffSeconds(inner, this.#anchorInner);
    const extra = elapsed * (this.#innerFrequency - this.#frequency) * 1e-6 /
      (1 - this.#innerFrequency * 1e-6);
    return inner + (this.#anchorVirtual - this.#anchorInner) + BigInt(Math.round(extra * 1e9));
  }
}

/** A `Clock` that computes everything and changes nothing (`-x`). */
export class ReadOnlyClock extends SlewingClock {
  readonly #driver: VirtualDriver;

  constructor(inner: Clock, options: SlewingClockOptions = {}) {
    const driver = new VirtualDriver(inner);
    super(driver, options);
    this.#driver = driver;
  }

  /**
   * How far the wrapped (real) clock is from cooked time, seconds (positive =
   * fast): the virtual corrections made so far plus the one still slewing.
   */
  systemClockOffset(): number {
    return this.#driver.innerAhead() + this.remainingCorrection();
  }

  /** The leap second the discipline asked for (recorded only). */
  get leap(): LeapAction {
    return this.#driver.leap;
  }

  /** The sync status the discipline gave (recorded only). */
  get syncStatus(): { synced: boolean; estError: number; maxError: number } {
    return { ...this.#driver.sync };
  }
}
