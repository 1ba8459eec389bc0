/**
 * A simulated system clock for tests and the simulator. True time is driven
 * from outside (`advance`, `setTrueTime`); the raw clock runs with an initial
 * offset, a frequency error (ppm, positive = gains time) that wanders as a
 * random walk (a normal variate with the given standard deviation is added
 * every true second, from a seeded `Prng`), and a kernel frequency
 * correction. On top sits the same generic slewing layer as `SystemClock`
 * (`SlewingClock`); its slew timers fire exactly when they fall due, as a
 * kernel timer would. An armed leap second is applied when the raw clock
 * reaches midnight UTC, as the Linux kernel does.
 *
 * @example
 * ```ts
 * import { SimClock } from "./sim_clock.ts";
 * const clock = new SimClock({ start: 0n, offset: 0.1, frequencyError: 100, seed: 1 });
 * clock.accumulateOffset(0.1, 0);
 * clock.advance(10);
 * Math.abs(clock.trueOffset()) < 0.01; // true: the slew at 83333 ppm took 1.2 s
 * ```
 * @module
 */
import { diffSeconds, NS_PER_SEC, type Timestamp } from "../time/timestamp.ts";
import type { Clock, LeapAction, ParameterChangeListener } from "./clock.ts";
import { Prng } from "./prng.ts";
import { type ClockDriver, SlewingClock } from "./slewing_clock.ts";

/** Seconds in a UTC day (Unix time has no leap seconds). */
const DAY_NS = 86_400n * NS_PER_SEC;
/** chrony.conf(5) maxdrift: the Linux driver can set up to 100000 ppm. */
const LINUX_MAX_FREQUENCY = 100000;

/** How a `SimClock` starts. */
export interface SimClockOptions {
  /** True time at the start. */
  start: Timestamp;
  /** Initial clock minus true time, seconds (positive = fast). Default 0. */
  offset?: number;
  /** Natural frequency error, ppm (positive = the clock gains time). Default 0. */
  frequencyError?: number;
  /** Standard deviation of the frequency change added every second, s/s. Default 0. */
  wander?: number;
  /** PRNG seed for the wander. Default 1. */
  seed?: number;
  /** Largest slew rate, ppm (chrony.conf(5) maxslewrate, default 83333.333 ppm). */
  maxSlewRate?: number;
  /** Kernel frequency set at start, ppm, chrony's sign. Default 0. */
  initialFrequency?: number;
}

/** The simulated kernel clock under the generic layer. */
class SimKernel implements ClockDriver {
  readonly maxFrequency = LINUX_MAX_FREQUENCY;
  trueTime: Timestamp;
  /** Raw minus true time, seconds. */
  offset: number;
  /** Natural frequency error, s/s. */
  error: number;
  /** Kernel frequency, ppm, chrony's sign. */
  frequency: number;
  leap: LeapAction = 0;
  synced = false;
  estError = 0;
  maxError = 0;

  constructor(start: Timestamp, offset: number, error: number, frequency: number) {
    this.trueTime = start;
    this.offset = offset;
    this.error = error;
    this.frequency = frequency;
  }

  /** Raw clock rate minus one, s/s. */
  rateError(): number {
    const k = -this.frequency * 1e-6;
    return this.error + k + this.error * k;
  }

  readRaw(): Timestamp {
    return this.trueTime + BigInt(Math.round(this.offset * 1e9));
  }

  readFrequency(): number {
    return this.frequency;
  }

  setFrequency(ppm: number): number {
    this.frequency = Math.min(this.maxFrequency, Math.max(-this.maxFrequency, ppm));
    return this.frequency;
  }

  applyStep(offset: number): void {
    this.offset -= offset;
  }

  setLeap(leap: LeapAction): void {
    this.leap = leap;
  }

  setSyncStatus(synced: boolean, estError: number, maxError: number): void {
    this.synced = synced;
    this.estError = estError;
    this.maxError = maxError;
  }
}

/** A simulated clock: implements `Clock` and exposes the truth for the simulator. */
export class SimClock implements Clock {
  readonly #kernel: SimKernel;
  readonly #clock: SlewingClock;
  readonly #rng: Prng;
  readonly #wander: number;
  #nextWander: Timestamp;

  constructor(options: SimClockOptions) {
    this.#kernel = new SimKernel(
      options.start,
      options.offset ?? 0,
      (options.frequencyError ?? 0) * 1e-6,
      options.initialFrequency ?? 0,
    );
    this.#rng = new Prng(options.seed ?? 1);
    this.#wander = options.wander ?? 0;
    this.#nextWander = options.start + NS_PER_SEC;
    this.#clock = new SlewingClock(
      this.#kernel,
      options.maxSlewRate === undefined ? {} : { maxSlewRate: options.maxSlewRate },
    );
  }

  get maxFrequency(): number {
    return this.#kernel.maxFrequency;
  }

  /** True time now. */
  trueTime(): Timestamp {
    return this.#kernel.trueTime;
  }

  /** Raw clock minus true time, seconds: what programs reading the clock are off by. */
  trueOffset(): number {
    return this.#kernel.offset;
  }

  /** Cooked clock minus true time, seconds: what an ideal NTP measurement would see. */
  trueCookedOffset(): number {
    return diffSeconds(this.#clock.now(), this.#kernel.trueTime);
  }

  /** Frequency error of the cooked clock (slew excluded), s/s, positive = gains time. */
  trueFrequencyError(): number {
    const k = -this.#clock.readFrequency() * 1e-6;
    const e = this.#kernel.error;
    return e + k + e * k;
  }

  /** Natural frequency error of the hardware now (with wander), s/s. */
  naturalFrequencyError(): number {
    return this.#kernel.error;
  }

  /** The leap second armed in the simulated kernel. */
  kernelLeap(): LeapAction {
    return this.#kernel.leap;
  }

  /** Synchronisation status last given to the simulated kernel. */
  kernelSyncStatus(): { synced: boolean; estError: number; maxError: number } {
    const k = this.#kernel;
    return { synced: k.synced, estError: k.estError, maxError: k.maxError };
  }

  /** Moves true time forward to `t` (no-op if `t` is not later). */
  setTrueTime(t: Timestamp): void {
    const k = this.#kernel;
    while (k.trueTime < t) {
      let end = t < this.#nextWander ? t : this.#nextWander;
      const tickAt = this.#clock.nextTick;
      if (tickAt !== null) end = this.#earlier(end, this.#trueWhenRaw(tickAt));
      const leapAt = this.#leapRawTime();
      if (leapAt !== null) end = this.#earlier(end, this.#trueWhenRaw(leapAt));
      k.offset += k.rateError() * diffSeconds(end, k.trueTime);
      k.trueTime = end;
      if (k.trueTime === this.#nextWander) {
        if (this.#wander !== 0) k.error += this.#rng.normal(0, this.#wander);
        this.#nextWander += NS_PER_SEC;
      }
      const raw = k.readRaw();
      if (leapAt !== null && raw >= leapAt) {
        k.offset += k.leap === 1 ? -1 : 1;
        k.leap = 0;
      }
      if (tickAt !== null && raw >= tickAt) this.#clock.tick();
    }
  }

  /** Moves true time forward by `seconds`. */
  advance(seconds: number): void {
    this.setTrueTime(this.#kernel.trueTime + BigInt(Math.round(seconds * 1e9)));
  }

  /** True time at which the raw clock reaches `raw` at the present rate (at least 1 ns ahead). */
  #trueWhenRaw(raw: Timestamp): Timestamp {
    const k = this.#kernel;
    const seconds = diffSeconds(raw, k.readRaw()) / (1 + k.rateError());
    const ns = BigInt(Math.max(1, Math.ceil(seconds * 1e9)));
    return k.trueTime + ns;
  }

  #earlier(a: Timestamp, b: Timestamp): Timestamp {
    return a < b ? a : b;
  }

  /** Raw time at which the armed leap second is applied, or null. */
  #leapRawTime(): Timestamp | null {
    const k = this.#kernel;
    if (k.leap === 0) return null;
    const raw = k.readRaw();
    let midnight = raw - (((raw % DAY_NS) + DAY_NS) % DAY_NS) + DAY_NS;
    if (k.leap === -1) midnight -= NS_PER_SEC;
    return midnight > raw ? midnight : null;
  }

  now(): Timestamp {
    return this.#clock.now();
  }
  rawNow(): Timestamp {
    return this.#clock.rawNow();
  }
  readFrequency(): number {
    return this.#clock.readFrequency();
  }
  setFrequency(ppm: number): number {
    return this.#clock.setFrequency(ppm);
  }
  accumulateOffset(offset: number, correctionRate: number): void {
    this.#clock.accumulateOffset(offset, correctionRate);
  }
  step(offset: number): void {
    this.#clock.step(offset);
  }
  remainingCorrection(): number {
    return this.#clock.remainingCorrection();
  }
  setLeap(leap: LeapAction): void {
    this.#clock.setLeap(leap);
  }
  setSyncStatus(synced: boolean, estError: number, maxError: number): void {
    this.#clock.setSyncStatus(synced, estError, maxError);
  }
  /** Slew timers are run inside `advance`; nothing for the caller to arm. */
  tick(): Timestamp | null {
    return null;
  }
  onParameterChange(listener: ParameterChangeListener): () => void {
    return this.#clock.onParameterChange(listener);
  }
}
