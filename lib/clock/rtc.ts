/**
 * RTC tracking (chrony.conf(5) `rtcfile`, `rtconutc`, `hwclockfile`,
 * `rtcautotrim`; chronyc(1) `rtcdata`, `trimrtc`, `writertc`): the
 * real-time clock's error against the system clock and its gain rate,
 * estimated by a regression of (RTC fast by) against (RTC time) over
 * samples taken at RTC update interrupts.
 *
 * Sans-IO: samples come in as (RTC whole seconds, system time); the device
 * is read and set by the caller (lib/daemon/rtc.ts) through an injected
 * `ClockDevice`. The rtcfile holds one line, `valid refTime fast gainPpm`
 * (flag, RTC epoch seconds, seconds with 6 decimals, ppm with 3), as
 * chronyd 4.3 writes it.
 *
 * @example
 * ```ts
 * import { RtcTracker } from "./rtc.ts";
 * const t = new RtcTracker();
 * for (let i = 0; i < 4; i++) t.addSample(1000 + 60 * i, BigInt(1000 + 60 * i) * 1_000_000_000n - 2_000_000_000n);
 * t.report().rtcSecondsFast; // 2
 * ```
 * @module
 */
import { RTC_TIME } from "../../ffi/layout.ts";
import { regress } from "./regression.ts";
import { fromUnixSeconds, type Timestamp } from "../time/timestamp.ts";
/**
 * The `rtcdata` values (the same shape as lib/cmdmon's `RtcReport`, written here
 * so lib/clock does not import lib/cmdmon: the import-graph test forbids the cycle).
 */
export interface RtcReport {
  refTime: Timestamp;
  nSamples: number;
  nRuns: number;
  spanSeconds: number;
  rtcSecondsFast: number;
  rtcGainRatePpm: number;
}

/**
 * Broken-down RTC time: the fields of `struct rtc_time` horae uses, as
 * `struct tm` counts them (mon 0-11, year - 1900); lib/refclock/rtc.ts decodes them.
 */
export interface RtcTime {
  sec: number;
  min: number;
  hour: number;
  mday: number;
  mon: number;
  year: number;
}

/** The rtcfile's content. */
export interface RtcCoefficients {
  /** The coefficients come from a fit (or the file said so). */
  valid: boolean;
  /** RTC time (Unix seconds) the coefficients refer to. */
  refTime: number;
  /** RTC minus system time at `refTime`, seconds. */
  fast: number;
  /** d(fast)/d(RTC time), ppm. */
  gainPpm: number;
}

/** Reads an rtcfile; null when it does not hold the four fields. */
export function parseRtcFile(text: string): RtcCoefficients | null {
  const f = text.trim().split(/\s+/);
  if (f.length < 4) return null;
  const [v, r, fa, g] = f.map(Number) as [number, number, number, number];
  if (!Number.isInteger(v) || !Number.isInteger(r) || !Number.isFinite(fa) || !Number.isFinite(g)) {
    return null;
  }
  return { valid: v !== 0, refTime: r, fast: fa, gainPpm: g };
}

/** The rtcfile line as chronyd writes it. */
export function formatRtcFile(c: RtcCoefficients): string {
  return `${c.valid ? 1 : 0} ${Math.trunc(c.refTime)} ${c.fast.toFixed(6)} ${
    c.gainPpm.toFixed(3)
  }\n`;
}

/**
 * The hwclock adjtime file (`hwclockfile`): its third line says `UTC` or
 * `LOCAL`. Returns true for UTC, false for local, null when it says neither.
 */
export function parseAdjtime(text: string): boolean | null {
  const line = (text.split("\n")[2] ?? "").trim();
  if (line === "UTC") return true;
  if (line === "LOCAL") return false;
  return null;
}

/** Broken-down time of Unix seconds (`localtime` for a local-time RTC); injected. */
export type EpochToLocal = (epoch: number) => RtcTime;

/** Fills a `struct rtc_time` for RTC_SET_TIME: UTC, or local time through `local`. */
export function encodeRtcTime(epoch: number, utc: boolean, local?: EpochToLocal): Uint8Array {
  let t: RtcTime & { wday: number; yday: number };
  if (utc || !local) {
    const d = new Date(epoch * 1000);
    const start = Date.UTC(d.getUTCFullYear(), 0, 1);
    t = {
      sec: d.getUTCSeconds(),
      min: d.getUTCMinutes(),
      hour: d.getUTCHours(),
      mday: d.getUTCDate(),
      mon: d.getUTCMonth(),
      year: d.getUTCFullYear() - 1900,
      wday: d.getUTCDay(),
      yday: Math.floor((epoch * 1000 - start) / 86_400_000),
    };
  } else {
    t = { wday: 0, yday: 0, ...local(epoch) };
  }
  const buf = new Uint8Array(RTC_TIME.size);
  const v = new DataView(buf.buffer);
  for (const k of ["sec", "min", "hour", "mday", "mon", "year", "wday", "yday"] as const) {
    v.setInt32(RTC_TIME[k], t[k], true);
  }
  v.setInt32(RTC_TIME.isdst, -1, true);
  return buf;
}

/** One measurement: the RTC's whole second and the system time it began at. */
interface Sample {
  rtc: number;
  fast: number;
}

/** Most samples kept (older ones are dropped first). Our choice. */
export const RTC_MAX_SAMPLES = 64;
/** Fewest samples for a fit of the gain rate. Our choice. */
export const RTC_MIN_SAMPLES = 3;

/** A line of rtc.log: the measurement and the fit after it. */
export interface RtcMeasurement {
  /** RTC minus system time measured now, seconds. */
  measured: number;
  /** The fit is valid. */
  valid: boolean;
  /** RTC minus system time predicted by the fit at this RTC time, seconds. */
  predicted: number;
  gainPpm: number;
  samples: number;
  runs: number;
}

/** See the module doc. */
export class RtcTracker {
  #samples: Sample[] = [];
  #coefs: RtcCoefficients;
  #runs = 0;

  /** Starts from an rtcfile's coefficients (or none). */
  constructor(saved: RtcCoefficients | null = null) {
    this.#coefs = saved ?? { valid: false, refTime: 0, fast: 0, gainPpm: 0 };
  }

  /** The coefficients as the rtcfile keeps them. */
  get coefficients(): RtcCoefficients {
    return { ...this.#coefs };
  }

  /** Number of samples held. */
  get sampleCount(): number {
    return this.#samples.length;
  }

  /**
   * A sample at an update interrupt: the RTC began second `rtcSeconds` at
   * system time `systemTime`. Refits and returns the rtc.log values.
   */
  addSample(rtcSeconds: number, systemTime: Timestamp): RtcMeasurement {
    const fast = Number(fromUnixSeconds(rtcSeconds) - systemTime) / 1e9;
    this.#samples.push({ rtc: rtcSeconds, fast });
    if (this.#samples.length > RTC_MAX_SAMPLES) this.#samples.shift();
    this.#fit();
    return {
      measured: fast,
      valid: this.#coefs.valid,
      predicted: this.predictFast(rtcSeconds),
      gainPpm: this.#coefs.gainPpm,
      samples: this.#samples.length,
      runs: this.#runs,
    };
  }

  #fit(): void {
    const s = this.#samples;
    const newest = s[s.length - 1]!;
    if (s.length < RTC_MIN_SAMPLES) {
      // too few for a rate: keep the rate known (file or trim), move the offset
      this.#coefs = { ...this.#coefs, refTime: newest.rtc, fast: newest.fast };
      this.#runs = s.length;
      return;
    }
    const x = s.map((p) => p.rtc - newest.rtc);
    const y = s.map((p) => p.fast);
    const fit = regress(x, y, x.map(() => 1), { minKeep: RTC_MIN_SAMPLES, curvature: false });
    if (fit.start > 0) this.#samples = s.slice(fit.start);
    this.#runs = fit.runs;
    this.#coefs = {
      valid: true,
      refTime: newest.rtc,
      fast: fit.intercept,
      gainPpm: fit.slope * 1e6,
    };
  }

  /** RTC minus system time the coefficients predict at RTC time `rtcSeconds`. */
  predictFast(rtcSeconds: number): number {
    const c = this.#coefs;
    return c.fast + (rtcSeconds - c.refTime) * c.gainPpm * 1e-6;
  }

  /** `rtcdata`. */
  report(): RtcReport {
    const s = this.#samples;
    const c = this.#coefs;
    return {
      refTime: fromUnixSeconds(c.refTime),
      nSamples: s.length,
      nRuns: this.#runs,
      spanSeconds: s.length > 0 ? s[s.length - 1]!.rtc - s[0]!.rtc : 0,
      rtcSecondsFast: c.fast,
      rtcGainRatePpm: c.gainPpm,
    };
  }

  /**
   * `trimrtc` at system time `now` (Unix seconds): null when the estimated
   * error is below a second (nothing to do); else the RTC time (Unix
   * seconds) to set now, the nearest whole second. The gain rate is kept,
   * the samples flushed, the offset becomes what setting leaves (the
   * fraction between that second and `now`; new samples refine it).
   */
  trim(now: number): number | null {
    if (!this.#coefs.valid && this.#samples.length === 0) return null;
    const err = this.predictFast(now + this.#coefs.fast);
    if (Math.abs(err) < 1) return null;
    this.#samples = [];
    this.#runs = 0;
    const target = Math.round(now);
    this.#coefs = { ...this.#coefs, refTime: target, fast: target - now };
    return target;
  }

  /** `rtcautotrim`: the error at system time `now` exceeds `threshold` seconds. */
  needsTrim(now: number, threshold: number): boolean {
    if (!(threshold > 0) || !this.#coefs.valid) return false;
    return Math.abs(this.predictFast(now + this.#coefs.fast)) > threshold;
  }
}

/** An rtc.log line (chrony.conf(5) `log rtc` columns) at system time `now`. */
export function rtcLogLine(now: Timestamp, m: RtcMeasurement, interval: number): string {
  const iso = new Date(Number(now / 1_000_000n)).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)} ${m.measured.toFixed(6).padStart(12)} ${
    m.valid ? 1 : 0
  } ${m.predicted.toFixed(6).padStart(12)} ${m.gainPpm.toFixed(3).padStart(10)} ${
    String(m.samples).padStart(3)
  } ${String(m.runs).padStart(3)} ${String(Math.round(interval)).padStart(4)}`;
}
