/**
 * The reference: chrony's discipline and tracking. It takes the
 * `ReferenceUpdate`s that selection produces and drives the `Clock`:
 * - frequency: the update's residual frequency is combined with the current
 *   estimate, each weighted by the inverse square of its skew; the absolute
 *   frequency is limited by `maxdrift` and updates with a skew above
 *   `maxupdateskew` leave the frequency alone;
 * - offset: stepped if `makestep threshold limit` allows, otherwise slewed
 *   with a duration set by `corrtimeratio` (the correction rate passed to the
 *   clock is corrtimeratio × offset SD × update interval, s²);
 * - `maxchange offset start ignore`, `logchange`, leap seconds
 *   (`leapsecmode system|step|slew|ignore`, `leapsectz` through a lookup
 *   function), the `local` reference, and the unsynchronised state;
 * - `trackingData()` has everything `chronyc tracking` prints, and each
 *   update returns a `tracking` event with the `log tracking` columns.
 *
 * Log messages are returned as `ReferenceEvent` values; nothing is printed.
 *
 * @example
 * ```ts
 * import { Reference } from "./reference.ts";
 * import { SimClock } from "./sim_clock.ts";
 * const clock = new SimClock({ start: 0n, offset: 2, seed: 1 });
 * const ref = new Reference(clock, { makestep: { threshold: 1, limit: 3 } });
 * const events = ref.update({
 *   refId: 0xc0000201, address: "192.0.2.1", stratum: 2, leap: 0, refTime: clock.now(),
 *   offset: 2, offsetSd: 1e-4, frequency: 0, frequencySd: 1e-6, skew: 1e-6,
 *   rootDelay: 1e-3, rootDispersion: 1e-3, combined: 1,
 * });
 * // events: clockWrong (-2 s), stepped (-2 s), tracking
 * ```
 * @module
 */
import { diffSeconds, NS_PER_SEC, type Timestamp } from "../time/timestamp.ts";
import type { Clock, LeapAction } from "./clock.ts";
import type { LeapIndicator, ReferenceUpdate } from "./sample.ts";
import { REFID_LOCAL as LOCAL_REFERENCE_ID } from "../net/address.ts";

/** chrony.conf(5) leapsecmode. */
export type LeapSecMode = "system" | "step" | "slew" | "ignore";

/** Leap status as `chronyc tracking` shows it. */
export type LeapStatus = "normal" | "insert" | "delete" | "unsynchronised";

/** Configuration of the reference (chrony.conf(5) directives). */
export interface ReferenceOptions {
  /** `makestep threshold limit`: step if |offset| > threshold (s) in the first `limit` updates (-1: always). */
  makestep?: { threshold: number; limit: number } | null;
  /** `maxchange offset start ignore` (s, updates, times; ignore < 0: ignore for ever). */
  maxchange?: { offset: number; start: number; ignore: number } | null;
  /** `maxupdateskew`, ppm. chrony.conf(5): default 1000 ppm. */
  maxUpdateSkew?: number;
  /** `maxdrift`, ppm. chrony.conf(5): default 500000 ppm. */
  maxDrift?: number;
  /** `corrtimeratio`. chrony.conf(5): default 3. */
  corrTimeRatio?: number;
  /** `maxclockerror`, ppm. chrony.conf(5): default 1 ppm. */
  maxClockError?: number;
  /** `logchange`, seconds. chrony.conf(5): default 1 s. */
  logChange?: number;
  /** `leapsecmode`. chrony.conf(5): default system. */
  leapSecMode?: LeapSecMode;
  /** `leapsectz`: leap second at the end of the UTC day containing `t` (see leap.ts). */
  leapSecTz?: ((t: Timestamp) => LeapAction) | null;
  /** `local [stratum N] [orphan] [distance D] [activate A] [waitsynced S] [waitunsynced U]`. */
  local?: LocalReference | null;
  /** `fallbackdrift MIN MAX` (log2 seconds); null or a 0 bound: no fallbacks. */
  fallbackDrift?: { min: number; max: number } | null;
  /**
   * `rtcsync`: whether the clock (the kernel) is told it is synchronised, which
   * turns on the kernel's 11-minute copy of the system time to the RTC. The
   * error estimates are given either way. Default true; the daemon passes its
   * `rtcsync` directive.
   */
  rtcSync?: boolean;
}

/** What `chronyc tracking` shows (and the NTP server puts in its replies). */
export interface TrackingData {
  /** Reference ID (0x7F7F0101 for the local reference, 0 before any). */
  refId: number;
  /** Address of the reference source, if an NTP source. */
  address: string | null;
  /** Our stratum (0 when unsynchronised without a local reference). */
  stratum: number;
  /** Cooked time of the last update (0n before any). */
  refTime: Timestamp;
  /**
   * The system clock's correction, seconds, with chrony's sign (what chronyc
   * prints as System time and tracking.log as Rem. corr.): positive = the
   * system time is slow of NTP time, negative = fast.
   */
  systemTime: number;
  /** Offset at the last update, seconds (local minus true). */
  lastOffset: number;
  /** Long-term RMS of the offsets, seconds. */
  rmsOffset: number;
  /** Absolute frequency, ppm: positive = the uncorrected clock is fast. */
  frequency: number;
  /** Part of the last update's frequency not applied, ppm. */
  residualFrequency: number;
  /** Error bound of the frequency, ppm. */
  skew: number;
  /** Root delay, seconds. */
  rootDelay: number;
  /** Root dispersion grown to `now`, seconds. */
  rootDispersion: number;
  /** Seconds between the last two updates. */
  updateInterval: number;
  /** Leap status. */
  leapStatus: LeapStatus;
}

/** The columns of chrony's `log tracking` file for one update. */
export interface TrackingLogEntry {
  time: Timestamp;
  refId: number;
  address: string | null;
  stratum: number;
  /** ppm, positive = fast. */
  frequency: number;
  /** ppm. */
  skew: number;
  /** Offset corrected, seconds. */
  offset: number;
  leap: LeapStatus;
  combined: number;
  /** seconds */
  offsetSd: number;
  /** seconds, chrony's sign: positive = the system clock is slow (as `systemTime`) */
  remainingCorrection: number;
  /** seconds */
  rootDelay: number;
  /** seconds */
  rootDispersion: number;
  /** Root distance bound told to the kernel, seconds. */
  maxError: number;
}

/** Log-worthy things that happened, for the daemon to print. */
export type ReferenceEvent =
  /** "System clock wrong by X seconds[, adjustment started]"; `correction` = -offset. */
  | { kind: "clockWrong"; correction: number; adjustmentStarted: boolean }
  /** "System clock was stepped by X seconds"; `correction` = -offset. */
  | { kind: "stepped"; correction: number }
  /** maxchange: "Adjustment of X seconds exceeds the allowed maximum, update ignored". */
  | { kind: "offsetIgnored"; offset: number }
  /** maxchange exceeded too often: the daemon exits. */
  | { kind: "exit"; offset: number }
  /** The update's skew exceeded maxupdateskew, frequency left alone. */
  | { kind: "skewIgnored"; skew: number }
  /** A leap second was armed (+1 insert, -1 delete) or cleared (0). */
  | { kind: "leap"; leap: LeapAction }
  /** A leap second was applied by a step or a slew (leapsecmode step/slew). */
  | { kind: "leapApplied"; leap: LeapAction; mode: LeapSecMode }
  /** The log tracking line. */
  | { kind: "tracking"; entry: TrackingLogEntry }
  /** A manual (settime) correction: `offset` to slew or step (s), frequency change (ppm). */
  | { kind: "manual"; offset: number; dfreqPpm: number; withFrequency: boolean }
  /** A new frequency (ppm, before the limit) was beyond `maxdrift`: the limit was set. */
  | { kind: "frequencyExceeded"; frequency: number }
  /** `chronyc dfreq` (ppm) or `doffset` (s) was applied. */
  | { kind: "deltaFrequency"; ppm: number }
  | { kind: "deltaOffset"; offset: number }
  /** No update for 2^`log2Interval` s: the frequency was set to that fallback drift (ppm). */
  | { kind: "fallbackDrift"; log2Interval: number; frequency: number }
  /** initstepslew's correction: `offset` (s, positive = fast), stepped or slewed. */
  | { kind: "initialOffset"; offset: number; step: boolean }
  /** The initstepslew correction was made: normal operation begins. */
  | { kind: "initStepSlewEnd" };

/**
 * The `local` directive's options (chrony.conf(5)); `activate`, `waitSynced`
 * and `waitUnsynced` (chrony 4.5/4.7) are seconds, absent or 0: no condition,
 * which is chrony 4.3's behaviour.
 */
export interface LocalReference {
  stratum: number;
  orphan: boolean;
  /** Root distance at which the local reference activates after updates. */
  distance: number;
  /** The local reference is not used until an update's root distance was below this once. */
  activate?: number;
  /** Minimum interval since the last clock update before activation. */
  waitSynced?: number;
  /** Minimum interval unsynchronised (since start or losing synchronisation) before activation. */
  waitUnsynced?: number;
}

/** chrony's local reference ID: 127.127.1.1 (lib/net/address.ts). */
export { LOCAL_REFERENCE_ID };

const DAY_NS = 86_400n * NS_PER_SEC;
/** Our choice: RMS offset is a running mean for the first updates, then this weight. */
const RMS_MIN_WEIGHT = 0.1;
/** Root delay and dispersion reported before any synchronisation, seconds (as chronyd). */
const UNSYNC_ROOT = 1;
/** tracking.log's skew (ppm) before any frequency estimate: chronyd's 1 s/s. */
const UNSYNC_SKEW_PPM = 1e6;

/** The discipline of one clock. */
export class Reference {
  readonly #clock: Clock;
  #makestep: { threshold: number; limit: number } | null;
  /** Updates counted when `makestep` was last set (its limit counts from there). */
  #makestepBase = 0;
  readonly #maxchange: { offset: number; start: number; ignore: number } | null;
  #maxUpdateSkew: number;
  readonly #maxDrift: number;
  /** Frequencies (ppm) clamped by #limitFrequency since the last #takeExceeded. */
  #exceeded: number[] = [];
  readonly #corrTimeRatio: number;
  readonly #maxClockError: number;
  readonly #logChange: number;
  readonly #leapSecMode: LeapSecMode;
  readonly #leapSecTz: ((t: Timestamp) => LeapAction) | null;
  #local: LocalReference | null;
  /** When the clock last became unsynchronised (start, or the last `setUnsynchronised`). */
  #unsyncedSince: Timestamp;
  /** Whether an update's root distance was once below `local activate`. */
  #activated = false;

  #updates = 0;
  #ignored = 0;
  #synced = false;
  #everSynced = false;
  /** Frequency error bound, s/s; null until known. */
  #skew: number | null = null;
  #residual = 0;
  #lastOffset = 0;
  #avg2 = 0;
  #interval = 0;
  #refTime: Timestamp = 0n;
  #refId = 0;
  #address: string | null = null;
  #stratum = 0;
  #rootDelay = 0;
  #rootDispersion = 0;
  #leap: LeapAction = 0;
  /** Cooked time at which a step/slew-mode leap second is due. */
  #leapAt: Timestamp | null = null;
  /** fallbackdrift: bounds (log2 s) and one average frequency (ppm) per interval. */
  readonly #fallback: { min: number; max: number } | null;
  readonly #rtcSync: boolean;
  #fallbacks: { frequency: number; seconds: number }[] = [];
  /** Index in #fallbacks of the fallback in use since the last update, -1: none. */
  #fallbackInUse = -1;
  /** Cooked time of the last update (fallback intervals count from it), null before any. */
  #lastUpdateAt: Timestamp | null = null;
  /** `initstepslew` threshold (s) while its one correction is awaited, else null. */
  #initStepSlew: number | null = null;
  /** Cooked time of the last manual correction (settime), for the update interval. */
  #manualAt: Timestamp | null = null;

  constructor(clock: Clock, options: ReferenceOptions = {}) {
    this.#clock = clock;
    this.#makestep = options.makestep ?? null;
    this.#maxchange = options.maxchange ?? null;
    this.#maxUpdateSkew = options.maxUpdateSkew ?? 1000; // chrony.conf(5)
    this.#maxDrift = options.maxDrift ?? 500000; // chrony.conf(5)
    this.#corrTimeRatio = options.corrTimeRatio ?? 3; // chrony.conf(5)
    this.#maxClockError = (options.maxClockError ?? 1) * 1e-6; // chrony.conf(5)
    this.#logChange = options.logChange ?? 1; // chrony.conf(5)
    this.#leapSecMode = options.leapSecMode ?? "system"; // chrony.conf(5)
    this.#leapSecTz = options.leapSecTz ?? null;
    this.#local = options.local ?? null;
    this.#unsyncedSince = clock.now();
    const fb = options.fallbackDrift ?? null;
    this.#fallback = fb !== null && fb.min > 0 && fb.max >= fb.min ? fb : null;
    this.#rtcSync = options.rtcSync ?? true;
  }

  /**
   * `chronyc makestep THRESHOLD LIMIT`: step when |offset| > `threshold`
   * seconds in the next `limit` updates (-1: always).
   */
  setMakestep(threshold: number, limit: number): void {
    this.#makestep = { threshold, limit };
    this.#makestepBase = this.#updates;
  }

  /**
   * chrony.conf(5) `initstepslew THRESHOLD`: the next update only corrects the
   * offset (stepped above `threshold` seconds, slewed below) and ends the mode
   * (event `initStepSlewEnd`); null ends the mode without a correction.
   */
  setInitStepSlew(threshold: number | null): void {
    this.#initStepSlew = threshold;
  }

  /** Whether the initstepslew correction is still awaited. */
  get initStepSlewActive(): boolean {
    return this.#initStepSlew !== null;
  }

  /** `chronyc maxupdateskew PPM`: skip updates whose skew is above `ppm`. */
  setMaxUpdateSkew(ppm: number): void {
    this.#maxUpdateSkew = ppm;
  }

  /** `chronyc local ...` / `local off`: the local reference options, or null. */
  setLocal(local: LocalReference | null): void {
    this.#local = local;
  }

  /**
   * A manual correction (`settime`, `manual delete`): the frequency error
   * `dfreq` (s/s, positive = the clock gains) is taken into the absolute
   * frequency in full, and `offset` (s, positive = fast) is stepped if
   * `makestep` allows it, slewed otherwise. It counts as an update for
   * `makestep`'s limit; the clock is not marked synchronised (chronyd 4.3
   * stays "Not synchronised" without `local`).
   */
  manualUpdate(offset: number, dfreq: number, withFrequency: boolean): ReferenceEvent[] {
    const events: ReferenceEvent[] = [
      { kind: "manual", offset, dfreqPpm: dfreq * 1e6, withFrequency },
    ];
    if (dfreq !== 0) this.#applyDeltaFrequency(dfreq);
    events.push(...this.#takeExceeded());
    if (this.#makestepApplies(offset)) {
      events.push({ kind: "clockWrong", correction: -offset, adjustmentStarted: false });
      this.#clock.step(offset);
      events.push({ kind: "stepped", correction: -offset });
    } else {
      this.#clock.accumulateOffset(offset, 0);
    }
    const now = this.#clock.now();
    this.#updates++;
    this.#interval = this.#manualAt === null ? 0 : diffSeconds(now, this.#manualAt);
    this.#manualAt = now;
    this.#lastOffset = offset;
    // chronyd 4.3 shows |last offset| as the RMS offset after a manual correction
    this.#avg2 = offset * offset;
    this.#skew ??= 0;
    return events;
  }

  /**
   * `chronyc dfreq PPM`: the absolute frequency moves by `ppm` (chrony's sign:
   * +10 shows in tracking as "10 ppm fast" and the clock is corrected slower).
   */
  adjustFrequency(ppm: number): ReferenceEvent[] {
    this.#applyDeltaFrequency(ppm * 1e-6);
    return [...this.#takeExceeded(), { kind: "deltaFrequency", ppm }];
  }

  /** `chronyc doffset SECONDS`: `offset` (positive = the clock is fast) slewed away. */
  adjustOffset(offset: number): ReferenceEvent[] {
    this.#clock.accumulateOffset(offset, 0);
    return [{ kind: "deltaOffset", offset }];
  }

  /**
   * chrony.conf(5) fallbackdrift: each fallback i (interval 2^(min+i) s)
   * keeps an average of the absolute frequency; a plain mean until it has
   * seen its interval's worth of updates, then exponential with that interval
   * as time constant (horae's weighting).
   */
  #updateFallbacks(dt: number): void {
    const fb = this.#fallback;
    if (fb === null) return;
    const f = this.#clock.readFrequency();
    if (this.#fallbacks.length === 0) {
      for (let i = fb.min; i <= fb.max; i++) this.#fallbacks.push({ frequency: f, seconds: 0 });
    }
    this.#fallbacks.forEach((e, k) => {
      const span = 2 ** (fb.min + k);
      const w = e.seconds < span ? dt / Math.max(e.seconds + dt, 1e-9) : Math.min(1, dt / span);
      e.frequency += (f - e.frequency) * w;
      e.seconds += dt;
    });
    this.#fallbackInUse = -1;
  }

  /**
   * fallbackdrift, called periodically: 2^min s after the last update the
   * frequency is set to the first fallback, after 2^(min+1) s to the second,
   * and so on up to 2^max; the clock is then "Not synchronised".
   */
  fallbackTick(now: Timestamp = this.#clock.now()): ReferenceEvent[] {
    const fb = this.#fallback;
    if (fb === null || this.#lastUpdateAt === null || this.#fallbacks.length === 0) return [];
    const elapsed = diffSeconds(now, this.#lastUpdateAt);
    if (elapsed < 2 ** fb.min) return [];
    const k = Math.min(fb.max, Math.floor(Math.log2(elapsed))) - fb.min;
    if (k <= this.#fallbackInUse) return [];
    this.#fallbackInUse = k;
    const frequency = this.#limitFrequency(this.#fallbacks[k]!.frequency);
    this.#clock.setFrequency(frequency);
    this.#exceeded = []; // averages of limited frequencies
    const events: ReferenceEvent[] = [
      { kind: "fallbackDrift", log2Interval: fb.min + k, frequency },
    ];
    if (this.#synced) events.push(...this.setUnsynchronised());
    return events;
  }

  /** initstepslew: one step or slew of `offset`, then normal operation. */
  #initialCorrection(offset: number): ReferenceEvent[] {
    const threshold = this.#initStepSlew!;
    this.#initStepSlew = null;
    const step = Math.abs(offset) > threshold;
    const events: ReferenceEvent[] = [{ kind: "initialOffset", offset, step }];
    if (step) this.#clock.step(offset);
    else this.#clock.accumulateOffset(offset, 0);
    events.push({ kind: "initStepSlewEnd" });
    return events;
  }

  /** `makestep`: this update's offset is stepped (within the first `limit` updates, over `threshold`). */
  #makestepApplies(offset: number): boolean {
    const ms = this.#makestep;
    return ms !== null && (ms.limit < 0 || this.#updates - this.#makestepBase < ms.limit) &&
      Math.abs(offset) > ms.threshold;
  }

  /** Absolute frequency F (s/s) becomes F + d(1 - F), as chronyd combines a frequency change. */
  #applyDeltaFrequency(d: number): void {
    const f = this.#clock.readFrequency() * 1e-6;
    this.#clock.setFrequency(this.#limitFrequency((f + d * (1 - f)) * 1e6));
  }

  /** Frequency (ppm) and skew (ppm) to write to the driftfile. */
  driftValues(): { frequency: number; skew: number } {
    // Unknown skew: 1 s/s, chronyd's value before any estimate.
    return { frequency: this.#clock.readFrequency(), skew: (this.#skew ?? 1) * 1e6 };
  }

  /** Sets the frequency and skew read from the driftfile (ppm) at start. */
  restoreDrift(frequency: number, skew: number): void {
    this.#clock.setFrequency(this.#limitFrequency(frequency));
    this.#exceeded = []; // the driftfile's own message says it (driftExceededMessage)
    this.#skew = Number.isNaN(skew) ? null : skew * 1e-6; // a NaN skew is no estimate
  }

  /** Number of clock updates made so far. */
  get updates(): number {
    return this.#updates;
  }

  /** Whether the clock is synchronised (an update since the last loss). */
  get synchronised(): boolean {
    return this.#synced;
  }

  /** Processes one update from selection; returns what to log. */
  update(u: ReferenceUpdate): ReferenceEvent[] {
    const events: ReferenceEvent[] = [];
    const now = this.#clock.now();
    const offset = u.offset + u.frequency * diffSeconds(now, u.refTime);
    if (this.#initStepSlew !== null) return this.#initialCorrection(offset);

    const mc = this.#maxchange;
    if (mc !== null && this.#updates >= mc.start && Math.abs(offset) > mc.offset) {
      if (mc.ignore < 0 || this.#ignored < mc.ignore) {
        this.#ignored++;
        return [{ kind: "offsetIgnored", offset }];
      }
      return [{ kind: "exit", offset }];
    }

    // tracking.log (chrony.conf(5)): Rem. corr. is what was left from the previous update, and
    // Max. error adds this offset and that remainder to the previous root delay / 2 and the
    // previous root dispersion grown until now.
    const remainingBefore = -(this.#clock.systemClockOffset?.() ??
      this.#clock.remainingCorrection());
    // The first update follows the unsynchronised start (root delay and dispersion 1 s):
    // chronyd 4.3 and 4.8 log that state's 1.5 s then.
    const logMaxError = this.#everSynced
      ? Math.abs(offset) + Math.abs(remainingBefore) + this.#rootDelay / 2 +
        this.#rootDispersionAt(now)
      : UNSYNC_ROOT / 2 + UNSYNC_ROOT;

    // Frequency: combine the update's residual with our estimate (inverse skew² weights).
    let dfreq = 0;
    if (u.skew * 1e6 > this.#maxUpdateSkew) {
      events.push({ kind: "skewIgnored", skew: u.skew * 1e6 });
      this.#residual = u.frequency;
    } else {
      const old = this.#skew;
      if (old === null || old <= 0 || u.skew <= 0) {
        dfreq = u.frequency;
        this.#skew = u.skew;
      } else {
        const wOld = 1 / (old * old), wNew = 1 / (u.skew * u.skew);
        const sum = wOld + wNew;
        dfreq = u.frequency * wNew / sum;
        // The statistics behind successive updates overlap: the combined
        // estimate is no better than the better of the two skews (not the
        // newest's alone: an update far less certain than our estimate, such
        // as a regression across a step of the source, would otherwise throw
        // the estimate's weight away and let the next such update move the
        // frequency by half its error; issue 17). A real change of frequency
        // still raises the skew through the disagreement term.
        this.#skew = Math.max(
          Math.min(old, u.skew),
          Math.sqrt(1 / sum + (wOld * wNew / (sum * sum)) * u.frequency ** 2),
        );
      }
      this.#residual = u.frequency - dfreq;
      if (dfreq !== 0) {
        const c = this.#clock.readFrequency() * 1e-6;
        const next = (1 - (1 - c) / (1 + dfreq)) * 1e6;
        this.#clock.setFrequency(this.#limitFrequency(next));
        events.push(...this.#takeExceeded());
      }
    }

    // Offset: step (makestep) or slew at the corrtimeratio rate.
    const interval = this.#everSynced ? diffSeconds(now, this.#refTime) : 0;
    this.#updateFallbacks(interval);
    this.#lastUpdateAt = now;
    if (this.#makestepApplies(offset)) {
      events.push({ kind: "clockWrong", correction: -offset, adjustmentStarted: false });
      this.#clock.step(offset);
      events.push({ kind: "stepped", correction: -offset });
    } else {
      if (Math.abs(offset) > this.#logChange) {
        events.push({ kind: "clockWrong", correction: -offset, adjustmentStarted: true });
      }
      const rate = this.#corrTimeRatio * u.offsetSd * interval;
      this.#clock.accumulateOffset(offset, rate);
    }

    this.#updates++;
    this.#avg2 += (offset * offset - this.#avg2) * Math.max(1 / this.#updates, RMS_MIN_WEIGHT);
    this.#lastOffset = offset;
    this.#interval = interval;
    this.#refTime = this.#clock.now();
    this.#refId = u.refId;
    this.#address = u.address;
    this.#stratum = u.stratum;
    this.#rootDelay = u.rootDelay;
    this.#rootDispersion = u.rootDispersion;
    this.#synced = true;
    this.#everSynced = true;
    if (u.rootDelay / 2 + u.rootDispersion < (this.#local?.activate ?? 0)) this.#activated = true;

    events.push(...this.#updateLeap(u.leap, this.#refTime));
    const maxError = this.#rootDelay / 2 + this.#rootDispersion;
    this.#clock.setSyncStatus(this.#rtcSync, u.offsetSd, maxError);
    const td = this.trackingData(this.#refTime);
    events.push({
      kind: "tracking",
      entry: {
        time: this.#refTime,
        refId: td.refId,
        address: td.address,
        stratum: td.stratum,
        frequency: td.frequency,
        // No frequency estimate yet (updates over maxupdateskew): chronyd's 1 s/s, as at start.
        skew: this.#skew === null ? UNSYNC_SKEW_PPM : td.skew,
        offset,
        leap: td.leapStatus,
        combined: u.combined,
        offsetSd: u.offsetSd,
        remainingCorrection: remainingBefore,
        rootDelay: td.rootDelay,
        rootDispersion: td.rootDispersion,
        maxError: logMaxError,
      },
    });
    return events;
  }

  /** No source is selectable any more: the clock is unsynchronised (maybe local reference). */
  setUnsynchronised(): ReferenceEvent[] {
    if (!this.#synced && this.#leap === 0) return [];
    if (this.#synced) this.#unsyncedSince = this.#clock.now();
    this.#synced = false;
    const events: ReferenceEvent[] = [];
    if (this.#leap !== 0) events.push(...this.#updateLeap(0, this.#clock.now()));
    this.#clock.setSyncStatus(false, 0, this.#rootDelay / 2 + this.#rootDispersion);
    return events;
  }

  /** Whether the local reference (`local` directive) is in use at `now`. */
  localActive(now: Timestamp = this.#clock.now()): boolean {
    const local = this.#local;
    if (local === null || this.#synced) return false;
    if (!this.localEligible(now)) return false;
    if (!this.#everSynced) return true;
    return this.#rootDelay / 2 + this.#rootDispersionAt(now) >= local.distance;
  }

  /**
   * Whether the conditions of chrony 4.5/4.7's `local activate`, `waitsynced`
   * and `waitunsynced` allow the local reference at `now` (the root distance
   * condition aside): an update's root distance was once below `activate`;
   * `waitSynced` seconds passed since the last clock update; `waitUnsynced`
   * seconds passed unsynchronised (since start when never synchronised, since
   * losing synchronisation otherwise). Without these options: always.
   */
  localEligible(now: Timestamp = this.#clock.now()): boolean {
    const local = this.#local;
    if (local === null) return false;
    if ((local.activate ?? 0) > 0 && !this.#activated) return false;
    if (this.#everSynced && diffSeconds(now, this.#refTime) < (local.waitSynced ?? 0)) {
      return false;
    }
    if (!this.#synced && diffSeconds(now, this.#unsyncedSince) < (local.waitUnsynced ?? 0)) {
      return false;
    }
    return true;
  }

  /** Cooked time at which `onTimer` must be called (a leap second in step/slew mode), or null. */
  nextTimer(): Timestamp | null {
    return this.#leapAt;
  }

  /** Applies a leap second due at `now` (leapsecmode step or slew). */
  onTimer(now: Timestamp = this.#clock.now()): ReferenceEvent[] {
    if (this.#leapAt === null || now < this.#leapAt) return [];
    const leap = this.#leap;
    this.#leapAt = null;
    this.#leap = 0;
    if (leap === 0) return [];
    // An inserted second leaves the clock 1 s fast; a deleted one 1 s slow.
    if (this.#leapSecMode === "step") this.#clock.step(leap);
    else this.#clock.accumulateOffset(leap, 0);
    return [{ kind: "leapApplied", leap, mode: this.#leapSecMode }];
  }

  /** Everything `chronyc tracking` shows, at cooked time `now`. */
  trackingData(now: Timestamp = this.#clock.now()): TrackingData {
    const local = this.localActive(now);
    const unsynced = !this.#synced && !local;
    const leapStatus: LeapStatus = unsynced
      ? "unsynchronised"
      : this.#leap === 1
      ? "insert"
      : this.#leap === -1
      ? "delete"
      : "normal";
    return {
      refId: local ? LOCAL_REFERENCE_ID : this.#refId,
      address: local ? null : this.#address,
      stratum: local ? this.#local!.stratum : unsynced ? 0 : this.#stratum,
      // The local reference is a fresh "update" at every moment, as chronyd shows it.
      refTime: local ? now : this.#refTime,
      systemTime: -(this.#clock.systemClockOffset?.() ?? this.#clock.remainingCorrection()),
      lastOffset: this.#lastOffset,
      rmsOffset: Math.sqrt(this.#avg2),
      frequency: this.#clock.readFrequency(),
      residualFrequency: this.#residual * 1e6,
      skew: (this.#skew ?? 0) * 1e6,
      // never synchronised: chronyd reports 1 s for both (the distance of "no reference")
      rootDelay: local ? 0 : this.#everSynced ? this.#rootDelay : UNSYNC_ROOT,
      rootDispersion: local ? 0 : this.#everSynced ? this.#rootDispersionAt(now) : UNSYNC_ROOT,
      updateInterval: this.#interval,
      leapStatus,
    };
  }

  #rootDispersionAt(now: Timestamp): number {
    if (!this.#everSynced) return 0;
    const elapsed = Math.max(0, diffSeconds(now, this.#refTime));
    const rate = (this.#skew ?? 0) + Math.abs(this.#residual) + this.#maxClockError;
    return this.#rootDispersion + elapsed * rate;
  }

  /** `ppm` within +-maxdrift (and the clock's limit); a clamp is remembered for the log. */
  #limitFrequency(ppm: number): number {
    const max = Math.min(this.#maxDrift, this.#clock.maxFrequency);
    // chronyd 4.3 logs "Frequency X ppm exceeds allowed maximum" for a manual or dfreq change
    if (Math.abs(ppm) > this.#maxDrift) this.#exceeded.push(ppm);
    return Math.min(max, Math.max(-max, ppm));
  }

  #takeExceeded(): ReferenceEvent[] {
    const events = this.#exceeded.map((frequency) => ({
      kind: "frequencyExceeded" as const,
      frequency,
    }));
    this.#exceeded = [];
    return events;
  }

  /** Arms or clears the leap second voted by the sources (or leapsectz) for today. */
  #updateLeap(voted: LeapIndicator, now: Timestamp): ReferenceEvent[] {
    let leap: LeapAction = voted === 1 ? 1 : voted === 2 ? -1 : 0;
    if (this.#leapSecTz !== null) leap = this.#leapSecTz(now);
    if (!isLeapDay(now) || this.#leapSecMode === "ignore") leap = 0;
    if (leap === this.#leap) return [];
    this.#leap = leap;
    if (this.#leapSecMode === "system") {
      this.#clock.setLeap(leap);
    } else {
      const midnight = now - (((now % DAY_NS) + DAY_NS) % DAY_NS) + DAY_NS;
      this.#leapAt = leap === 0 ? null : leap === 1 ? midnight : midnight - NS_PER_SEC;
    }
    return [{ kind: "leap", leap }];
  }
}

/** Leap seconds happen only at the end of 30 June or 31 December (UTC). chrony.conf(5) leapsecmode. */
function isLeapDay(t: Timestamp): boolean {
  const d = new Date(Number(t / 1_000_000n));
  const m = d.getUTCMonth(), day = d.getUTCDate();
  return (m === 5 && day === 30) || (m === 11 && day === 31);
}
