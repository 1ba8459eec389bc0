/**
 * The generic clock layer: builds slewing out of frequency changes on top of
 * a thin `ClockDriver` (set frequency, step, leap, sync status), as chronyd
 * does on Linux instead of using the kernel PLL. It keeps the offset still to
 * be corrected in a register, runs the driver at `base + slew` frequency for
 * as long as it takes to slew the register away, re-measures how much was
 * really slewed from the raw time elapsed, and tells listeners about every
 * change. Cooked time = raw time minus the remaining correction.
 *
 * The slew lasts `correctionRate / |offset|` seconds (see chrony.conf(5)
 * corrtimeratio: the amount of a correction and its duration are inversely
 * proportional), but never less than `minSlewDuration` and never faster than
 * `maxSlewRate`.
 *
 * @example
 * ```ts
 * import { SlewingClock } from "./slewing_clock.ts";
 * import type { ClockDriver } from "./slewing_clock.ts";
 * function slew(driver: ClockDriver) {
 *   const clock = new SlewingClock(driver, { maxSlewRate: 83333.333 });
 *   clock.accumulateOffset(0.01, 1e-3); // slew 10 ms away over 0.1 s
 *   const wakeAt = clock.tick(); // raw time to call tick() again
 * }
 * ```
 * @module
 */
import { diffSeconds, type Timestamp } from "../time/timestamp.ts";
import type { Clock, LeapAction, ParameterChange, ParameterChangeListener } from "./clock.ts";

/** The thin, system-specific part of a clock. */
export interface ClockDriver {
  /** Largest absolute frequency the driver can set, ppm. */
  readonly maxFrequency: number;
  /** Raw time as the system sees it. */
  readRaw(): Timestamp;
  /** Frequency currently set, ppm, chrony's sign (positive = runs slower than uncorrected). */
  readFrequency(): number;
  /** Sets the frequency, ppm, chrony's sign; returns the frequency really set (after rounding). */
  setFrequency(ppm: number): number;
  /** Moves the raw clock back by `offset` seconds (negative moves it forward). */
  applyStep(offset: number): void;
  /** Arms or clears a leap second at the end of the UTC day. */
  setLeap(leap: LeapAction): void;
  /** Synchronisation status and error estimates, seconds. */
  setSyncStatus(synced: boolean, estError: number, maxError: number): void;
}

/** Options of the generic layer. */
export interface SlewingClockOptions {
  /** Largest slew rate, ppm. chrony.conf(5): maxslewrate default 83333.333 ppm. */
  maxSlewRate?: number;
  /** Shortest slew, seconds. Our choice: 0.1 s, so small corrections are not rushed. */
  minSlewDuration?: number;
}

/** chrony.conf(5): maxslewrate default 83333.333 ppm. */
export const DEFAULT_MAX_SLEW_RATE = 83333.333;
/** Shortest slew, seconds (our choice). */
const DEFAULT_MIN_SLEW_DURATION = 0.1;
/** A remaining correction below this (seconds) is not worth a slew: 1 ns. */
const MIN_SLEW_OFFSET = 1e-9;

/** A `Clock` that slews by changing the frequency of a `ClockDriver`. */
export class SlewingClock implements Clock {
  readonly #driver: ClockDriver;
  readonly #maxSlewRate: number;
  readonly #minSlewDuration: number;
  readonly #listeners = new Set<ParameterChangeListener>();
  /** Frequency asked for by the discipline, ppm. */
  #base: number;
  /** Slew frequency really applied on top of `#base`, ppm (positive slows the clock). */
  #slew = 0;
  /** Remaining correction at `#mark`, seconds (positive = clock fast). */
  #register = 0;
  /** Raw time at which `#register` was last brought up to date. */
  #mark: Timestamp;
  /** Raw time at which the slew in progress ends, or null. */
  #slewEnd: Timestamp | null = null;
  /** Correction rate of the last accumulated offset, s². */
  #correctionRate = 0;

  constructor(driver: ClockDriver, options: SlewingClockOptions = {}) {
    this.#driver = driver;
    this.#maxSlewRate = options.maxSlewRate ?? DEFAULT_MAX_SLEW_RATE;
    this.#minSlewDuration = options.minSlewDuration ?? DEFAULT_MIN_SLEW_DURATION;
    this.#base = driver.readFrequency();
    this.#mark = driver.readRaw();
  }

  /** Largest absolute frequency, ppm (the driver's). */
  get maxFrequency(): number {
    return this.#driver.maxFrequency;
  }

  /** Raw time at which the slew in progress ends (when `tick` wants to be called), or null. */
  get nextTick(): Timestamp | null {
    return this.#slewEnd;
  }

  rawNow(): Timestamp {
    return this.#driver.readRaw();
  }

  now(): Timestamp {
    const raw = this.#driver.readRaw();
    return raw - BigInt(Math.round(this.#remainingAt(raw) * 1e9));
  }

  readFrequency(): number {
    return this.#base;
  }

  setFrequency(ppm: number): number {
    const max = this.#driver.maxFrequency;
    const next = Math.min(max, Math.max(-max, ppm));
    const raw = this.#driver.readRaw();
    this.#catchUp(raw);
    const old = this.#base;
    this.#base = next;
    this.#plan(raw, true);
    const dfreq = (old - next) * 1e-6 / (1 - old * 1e-6);
    this.#notify({ time: this.#cooked(raw), dfreq, doffset: 0, isStep: false });
    return next;
  }

  accumulateOffset(offset: number, correctionRate: number): void {
    const raw = this.#driver.readRaw();
    this.#catchUp(raw);
    this.#register += offset;
    this.#correctionRate = correctionRate;
    this.#plan(raw, true);
    this.#notify({ time: this.#cooked(raw), dfreq: 0, doffset: -offset, isStep: false });
  }

  step(offset: number): void {
    const raw = this.#driver.readRaw();
    this.#catchUp(raw);
    const total = offset + this.#register;
    this.#register = 0;
    if (this.#slew !== 0) {
      this.#slew = 0;
      this.#driver.setFrequency(this.#base);
    }
    this.#slewEnd = null;
    this.#driver.applyStep(total);
    this.#mark = this.#driver.readRaw();
    this.#notify({ time: this.#mark, dfreq: 0, doffset: -offset, isStep: true });
  }

  remainingCorrection(): number {
    return this.#remainingAt(this.#driver.readRaw());
  }

  setLeap(leap: LeapAction): void {
    this.#driver.setLeap(leap);
  }

  setSyncStatus(synced: boolean, estError: number, maxError: number): void {
    this.#driver.setSyncStatus(synced, estError, maxError);
  }

  tick(): Timestamp | null {
    const raw = this.#driver.readRaw();
    if (this.#slewEnd !== null && raw >= this.#slewEnd) {
      this.#catchUp(raw);
      this.#plan(raw, false);
    }
    return this.#slewEnd;
  }

  onParameterChange(listener: ParameterChangeListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Seconds slewed away per raw second at the current frequencies. */
  #slewPerRawSecond(): number {
    const b = this.#base * 1e-6, s = this.#slew * 1e-6;
    return s / (1 - b - s);
  }

  #remainingAt(raw: Timestamp): number {
    if (this.#slew === 0) return this.#register;
    return this.#register - diffSeconds(raw, this.#mark) * this.#slewPerRawSecond();
  }

  #cooked(raw: Timestamp): Timestamp {
    return raw - BigInt(Math.round(this.#remainingAt(raw) * 1e9));
  }

  /** Brings the register up to `raw` (what the slew has removed since `#mark`). */
  #catchUp(raw: Timestamp): void {
    this.#register = this.#remainingAt(raw);
    this.#mark = raw;
  }

  /** Chooses the slew for the register and sets the driver's frequency. */
  #plan(raw: Timestamp, force: boolean): void {
    const register = this.#register;
    let slew = 0;
    if (Math.abs(register) >= MIN_SLEW_OFFSET) {
      const duration = Math.max(
        this.#minSlewDuration,
        this.#correctionRate / Math.abs(register),
      );
      slew = (register / duration) * 1e6;
      slew = Math.min(this.#maxSlewRate, Math.max(-this.#maxSlewRate, slew));
      const max = this.#driver.maxFrequency;
      slew = Math.min(max - this.#base, Math.max(-max - this.#base, slew));
    }
    if (slew === 0 && this.#slew === 0 && !force) {
      this.#slewEnd = null;
      return;
    }
    const applied = this.#driver.setFrequency(this.#base + slew) - this.#base;
    this.#slew = applied * register > 0 ? applied : 0;
    if (this.#slew === 0) {
      this.#slewEnd = null;
      return;
    }
    const seconds = register / this.#slewPerRawSecond();
    this.#slewEnd = raw + BigInt(Math.ceil(seconds * 1e9));
  }

  #notify(change: ParameterChange): void {
    for (const listener of this.#listeners) listener(change);
  }
}
