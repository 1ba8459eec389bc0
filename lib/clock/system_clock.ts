/**
 * The Linux system clock, driven as chronyd drives it: the frequency through
 * `ADJ_FREQUENCY` (ppm × 65536) plus `ADJ_TICK` for the part beyond ±50 ppm
 * (one µs of tick is 100 ppm with USER_HZ = 100), slewing
 * built from frequency changes by the generic layer (the kernel PLL and
 * `ADJ_OFFSET` are never used), steps through `ADJ_SETOFFSET`, leap seconds
 * through `STA_INS`/`STA_DEL`, and the synchronisation status through
 * `STA_UNSYNC`, `esterror` and `maxerror` (with `STA_UNSYNC` clear the kernel
 * copies the time to the RTC every 11 minutes: `rtcsync`).
 *
 * The `adjtimex` and `now` functions are injected (the daemon passes
 * `ffi/libc.ts` adjtimex and CLOCK_REALTIME); tests pass fakes. The
 * constructor only reads (modes 0).
 *
 * @example
 * ```ts
 * import { SystemClock } from "./system_clock.ts";
 * import type { AdjtimexFn } from "./system_clock.ts";
 * function discipline(adjtimex: AdjtimexFn, realtime: () => bigint) {
 *   const clock = new SystemClock({ adjtimex, now: realtime });
 *   clock.setFrequency(-12.5); // kernel freq = 12.5 * 65536
 * }
 * ```
 * @module
 */
import {
  ADJ_ESTERROR,
  ADJ_FREQUENCY,
  ADJ_MAXERROR,
  ADJ_NANO,
  ADJ_SETOFFSET,
  ADJ_STATUS,
  ADJ_TICK,
  emptyTimex,
  STA_DEL,
  STA_INS,
  STA_RONLY,
  STA_UNSYNC,
  type Timex,
} from "../../ffi/timex.ts";
import type { Timestamp } from "../time/timestamp.ts";
import type { LeapAction } from "./clock.ts";
import { type ClockDriver, SlewingClock, type SlewingClockOptions } from "./slewing_clock.ts";

/** adjtimex(2) as `ffi/libc.ts` exports it: applies `tx.modes`, returns the clock state and the kernel's timex. */
export type AdjtimexFn = (tx: Timex) => { state: number; tx: Timex };

/** What `SystemClock` needs from the system. */
export interface SystemClockOptions extends SlewingClockOptions {
  /** adjtimex(2). */
  adjtimex: AdjtimexFn;
  /** CLOCK_REALTIME. */
  now: () => Timestamp;
  /** Kernel USER_HZ (sysconf(_SC_CLK_TCK)); default 100. */
  hz?: number;
  /**
   * Called when the kernel's frequency or tick is found changed by someone
   * else (chrony 4.7: "System clock interference detected"), before ours is
   * set again over it.
   */
  onInterference?: () => void;
}

/** adjtimex(2): `freq` is ppm scaled by 2^16. */
const FREQ_SCALE = 65536;
/** adjtimex(2): the kernel accepts `tick` within ±10 % of 10^6/USER_HZ, so at most 100000 ppm. */
const MAX_TICK_FRACTION = 0.1;
/** Linux NTP_PHASE_LIMIT: maxerror above 16 s means unsynchronised (µs). */
const MAX_MAXERROR_US = 16_000_000;

/** The thin adjtimex driver. */
class TimexDriver implements ClockDriver {
  readonly maxFrequency: number;
  readonly #adjtimex: AdjtimexFn;
  readonly #now: () => Timestamp;
  readonly #nominalTick: number;
  /** ppm of one µs of tick. */
  readonly #ppmPerTick: number;
  #tick: number;
  #frequency: number;
  /** Writable status bits as we last set (or found) them. */
  #status: number;
  /** The kernel `freq` we last set (or found). */
  #freq: number;
  readonly #onInterference: (() => void) | null;

  constructor(options: SystemClockOptions) {
    this.#adjtimex = options.adjtimex;
    this.#now = options.now;
    this.#onInterference = options.onInterference ?? null;
    const hz = options.hz ?? 100;
    this.#nominalTick = Math.round(1e6 / hz);
    this.#ppmPerTick = 1e6 / this.#nominalTick;
    this.maxFrequency = MAX_TICK_FRACTION * 1e6;
    const { tx } = this.#adjtimex(emptyTimex());
    this.#tick = tx.tick;
    this.#status = tx.status & ~STA_RONLY;
    this.#freq = tx.freq;
    this.#frequency = (this.#nominalTick - tx.tick) * this.#ppmPerTick - tx.freq / FREQ_SCALE;
  }

  readRaw(): Timestamp {
    return this.#now();
  }

  readFrequency(): number {
    return this.#frequency;
  }

  setFrequency(ppm: number): number {
    const clamped = Math.min(this.maxFrequency, Math.max(-this.maxFrequency, ppm));
    const deltaTick = Math.round(clamped / this.#ppmPerTick);
    const tick = this.#nominalTick - deltaTick;
    const freq = Math.round(-(clamped - deltaTick * this.#ppmPerTick) * FREQ_SCALE) + 0;
    if (this.#onInterference !== null) {
      // another process adjusting the clock shows as a frequency or tick we did not set
      const { tx: now } = this.#adjtimex(emptyTimex());
      if (now.freq !== this.#freq || now.tick !== this.#tick) this.#onInterference();
    }
    const tx = emptyTimex();
    tx.modes = ADJ_FREQUENCY;
    tx.freq = freq;
    if (tick !== this.#tick) {
      tx.modes |= ADJ_TICK;
      tx.tick = tick;
    }
    // the kernel's own rounding of what we set, for the comparison above
    this.#freq = this.#adjtimex(tx).tx.freq;
    this.#tick = tick;
    this.#frequency = deltaTick * this.#ppmPerTick - freq / FREQ_SCALE;
    return this.#frequency;
  }

  applyStep(offset: number): void {
    const ns = Math.round(-offset * 1e9);
    let sec = Math.floor(ns / 1e9);
    let nsec = ns - sec * 1e9;
    if (nsec >= 1e9) {
      sec += 1;
      nsec -= 1e9;
    }
    const tx = emptyTimex();
    tx.modes = ADJ_SETOFFSET | ADJ_NANO;
    tx.time = { sec, usec: nsec };
    this.#adjtimex(tx);
  }

  setLeap(leap: LeapAction): void {
    let status = this.#status & ~(STA_INS | STA_DEL);
    if (leap === 1) status |= STA_INS;
    else if (leap === -1) status |= STA_DEL;
    this.#writeStatus(status, 0, 0, 0);
  }

  setSyncStatus(synced: boolean, estError: number, maxError: number): void {
    const status = synced ? this.#status & ~STA_UNSYNC : this.#status | STA_UNSYNC;
    const est = Math.min(MAX_MAXERROR_US, Math.max(0, Math.round(estError * 1e6)));
    const max = Math.min(MAX_MAXERROR_US, Math.max(0, Math.round(maxError * 1e6)));
    this.#writeStatus(status, ADJ_ESTERROR | ADJ_MAXERROR, est, max);
  }

  #writeStatus(status: number, modes: number, est: number, max: number): void {
    const tx = emptyTimex();
    tx.modes = ADJ_STATUS | modes;
    tx.status = status;
    tx.esterror = est;
    tx.maxerror = max;
    this.#adjtimex(tx);
    this.#status = status;
  }
}

/** The real clock of a Linux system (give it fakes in tests). */
export class SystemClock extends SlewingClock {
  constructor(options: SystemClockOptions) {
    super(new TimexDriver(options), options);
  }
}
