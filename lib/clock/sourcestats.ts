/**
 * Per-source statistics: the samples kept for one source and the regression
 * through them (offset, frequency, skew, standard deviation), as shown by
 * `chronyc sourcestats`, plus the interval handed to source selection.
 *
 * Weighting (our choice): a sample's offset error is bounded by half the
 * extra round-trip delay it suffered over the best sample kept, plus its extra
 * dispersion. With `excess = (delay - minDelay) / 2 + (dispersion -
 * minDispersion)` and `scale = max(sd of delays / D, 1 ns)`, the weight is
 * `1 / (1 + (excess / scale)^2)`: 1 for the best samples, falling off for
 * samples queued behind traffic (about the inverse of the offset error's
 * variance: with exponential queueing a sample's error is uniform within
 * ± its extra delay / 2). The divisor was chosen on simulated exponential
 * queueing jitter (32 samples, RMS offset error of the estimate: 2.5 µs
 * unweighted, 1.6 µs with sd, 1.3 µs with sd/2, 1.1 µs with sd/4, for 10 µs
 * mean jitter each way), then D = 8 over `bench:sim` seeds 1-5 (worst lan RMS
 * 6.2 µs with 8 against 7.5 µs with 4; lan-1s 0.71 against 0.81 µs). With
 * few samples the minimum delay is itself a rough guess: D = n / 2 between 4
 * and 8 (the 600 s iburst run: 11 µs RMS with 8 from the start, 7.4 µs so).
 *
 * Jitter asymmetry (chrony.conf(5) `asymmetry`, ntpdata "Jitter asymmetry"):
 * when the queueing jitter of a path sits more in one direction, a sample
 * delayed by `e` over the minimum delay has its offset moved by about
 * `a * e`, with `a` = -0.5 when all the jitter is on the way to the source
 * and +0.5 when it is all on the way back. Our estimator (horae's own): an
 * unweighted least-squares fit of the kept offsets against both time and
 * excess delay, `offset = c + f * t + a * e`; `a` is used only when it is
 * significant (|a| at least {@linkcode ASYMMETRY_T} heteroscedasticity-robust
 * standard errors, over at least {@linkcode ASYMMETRY_MIN_SAMPLES} samples, in
 * {@linkcode ASYMMETRY_RUN} regressions in a row with the same sign; once in
 * use it stays while at least {@linkcode ASYMMETRY_T_KEEP} standard errors
 * with that sign), clamped to ±0.5, and otherwise 0. The regression then runs on `offset - a * e`. A configured
 * `asymmetry` (applied by lib/ntp/source.ts to the samples it makes) turns
 * the estimation off and is reported as is.
 *
 * Skew: the regression's standard error of the slope assumes independent
 * noise of one size around a straight line; from {@linkcode ROBUST_MIN_SAMPLES}
 * samples on it is widened to the leverage-corrected robust one when that
 * is larger ({@linkcode robustSlopeFactor}). A window that straddles a step
 * of the source (before the runs test has dropped the samples before it)
 * then reports a skew as large as its wrong slope, which lib/clock/reference.ts
 * weighs down or `maxupdateskew` ignores (issue 17: 5 ms step, 1 s polls, the
 * simulator's `server-step-5ms`: largest frequency error after the step
 * 700-870 ppm -> under 0.5 ppm with the reference's rule; lan RMS +2 %).
 * Such windows are now rare: the regression looks for a step among the
 * newest samples (lib/clock/regression.ts `findStep`), leaves a lone sample
 * off the line out, fits a step confirmed by two samples as a shift of the
 * older ones (the frequency stays theirs: `server-step-5ms` under 0.3 ppm)
 * and drops the samples before it once minsamples follow it.
 *
 * One-way floors (NTP sources, `floors: true`; horae's own, see
 * lib/clock/envelope.ts): from {@linkcode FLOOR_MIN_SAMPLES} kept samples on,
 * the offset at the newest sample is the midpoint of the two one-way floor
 * lines through the kept window (each direction's queueing removed by its own
 * packets that met no queue, which the round-trip weighting above cannot
 * see: a packet lucky one way and queued the other way weighs little there),
 * as long as it lies within {@linkcode floorGuard} of the regression's
 * offset ({@linkcode FLOOR_GUARD} standard errors plus half the typical
 * extra delay: a timestamp error that puts one point below a floor cannot
 * take the estimate further). Frequency, skew and the standard
 * deviations stay the regression's. Off with a configured `asymmetry` (the
 * samples' offsets are already corrected by the delay) and for reference
 * clocks (no one-way split). On the simulator (seeds 1-5, worst seed):
 * lan-1s 0.71 -> 0.47 µs RMS, wan-asym 1041 -> 990 µs, the others within
 * their seed-to-seed spread.
 *
 * @example
 * ```ts
 * import { SourceStats } from "./sourcestats.ts";
 * const st = new SourceStats({ name: "192.0.2.1" });
 * for (let i = 0; i < 8; i++) {
 *   st.accumulate({ time: BigInt(i) * 16_000_000_000n, offset: 1e-3 + i * 16e-6, peerDelay: 2e-4,
 *     peerDispersion: 1e-6, rootDelay: 0, rootDispersion: 0, stratum: 1, leap: 0 });
 * }
 * st.estimate()?.frequency; // 1e-6 (1 ppm fast)
 * st.getSelectionData(8n * 16_000_000_000n);
 * ```
 * @module
 */
import type { LeapIndicator, Sample } from "./sample.ts";
import { addSeconds, diffSeconds, type Timestamp } from "../time/timestamp.ts";
import { regress } from "./regression.ts";
import { floorFit } from "./envelope.ts";

/** chrony.conf(5): minsamples default 6. */
export const DEFAULT_MIN_SAMPLES = 6;
/** chrony.conf(5): maxsamples "useful range is 4 to 64"; 0 (default) means this built-in limit. */
export const MAX_SAMPLES_LIMIT = 64;
/** chrony.conf(5): maxclockerror default 1 ppm (as s/s). */
export const DEFAULT_MAX_CLOCK_ERROR = 1e-6;
/** Divisor of the delay standard deviation giving the weighting scale (our choice, see module doc). */
export const WEIGHT_SCALE_DIVISOR = 8;
/** Samples needed before a source is selectable (our choice; maxsamples 1 makes it 1). */
export const MIN_SAMPLES_FOR_SELECTION = 3;
/** Skew assumed while fewer than 3 samples exist, s/s (our choice: 2000 ppm, "unknown"). */
export const UNKNOWN_SKEW = 2e-3;
/** Below this many degrees of freedom the delay spread bounds the noise estimate (our choice). */
const FEW_DOF = 4;
/** With few samples, a slope within this many standard errors of 0 does not move the offset (our choice). */
export const FLAT_T = 2;
/** Samples needed before the jitter asymmetry is estimated (our choice). */
export const ASYMMETRY_MIN_SAMPLES = 12;
/** An asymmetry estimate is used when it is at least this many standard errors from 0 (our choice). */
export const ASYMMETRY_T = 5;
/** An asymmetry in use stays while it is at least this many standard errors from 0 (our choice). */
export const ASYMMETRY_T_KEEP = 2.5;
/** An estimate is used once this many regressions in a row found it significant, same sign (our choice). */
export const ASYMMETRY_RUN = 4;
/** Samples with an excess delay above this many times the median excess are left out of the estimate (our choice). */
export const ASYMMETRY_CAP = 3;
/** Samples needed before the one-way floors may give the offset (our choice). */
export const FLOOR_MIN_SAMPLES = 8;
/** The floors' offset is used within this many of the regression's standard errors of it (our choice). */
export const FLOOR_GUARD = 3;
/**
 * Samples needed before the frequency's standard error may be widened by the
 * robust one ({@linkcode robustSlopeFactor}; fewer: too noisy, our choice on
 * `bench:sim`'s iburst runs).
 */
export const ROBUST_MIN_SAMPLES = 8;
/** chrony.conf(5): the asymmetry can be between -0.5 and +0.5. */
export const MAX_ASYMMETRY = 0.5;

/** Options of one source's statistics (from `server`/`refclock`/global directives). */
export interface SourceStatsOptions {
  /** Name shown in reports (address or refclock refid). */
  name: string;
  /** chrony.conf(5) `minsamples`; default 6. */
  minSamples?: number;
  /** chrony.conf(5) `maxsamples`; 0 or absent: 64. 1 disables frequency tracking. */
  maxSamples?: number;
  /** chrony.conf(5) `maxclockerror` as s/s; default 1e-6. */
  maxClockError?: number;
  /**
   * chrony.conf(5) `asymmetry` of the source, already applied to its samples:
   * reported as is, and no estimation. Absent: estimated from the samples.
   */
  asymmetry?: number;
  /**
   * The samples are NTP exchanges, whose offset and round-trip delay split
   * into two one-way measurements: the offset may come from their floors
   * (see the module doc). Default false (reference clocks).
   */
  floors?: boolean;
}

/** A clock change to apply to stored samples (see {@linkcode SourceStats.correctForClockChange}). */
export interface ClockChange {
  /**
   * Local time at which the change took effect (only matters for `dfreq`;
   * `ParameterChange` of clock.ts can be passed as is).
   */
  time: Timestamp;
  /** Change of (local clock minus true time), seconds: a step back by 0.1 s is -0.1. */
  doffset: number;
  /** Change of the local clock's rate, s/s: +1e-6 means it now runs 1 ppm faster. */
  dfreq: number;
}

/** The regression's estimate, all at `refTime` (the newest sample's time). */
export interface SourceEstimate {
  /** Time the estimate refers to: the newest sample's local time. */
  refTime: Timestamp;
  /** Local minus source at refTime, seconds. */
  offset: number;
  /** Standard error of `offset`, seconds. */
  offsetSd: number;
  /** Rate of change of offset, s/s (positive: the local clock gains on the source). */
  frequency: number;
  /** Standard error of `frequency`, s/s. */
  frequencySd: number;
  /** Error bound of `frequency` (95 % Student t of frequencySd), s/s. */
  skew: number;
  /** Residual standard deviation of the best samples, seconds. */
  stdDev: number;
  /** Samples kept (NP). */
  samples: number;
  /**
   * Samples this regression dropped (runs and curvature tests, a step of the
   * source), with those dropped by regressions since the last new sample that
   * had none (after a clock correction): the index, among the `samples +
   * start` it accounts for, of the oldest one kept (statistics.log "Bs");
   * absent: 0.
   */
  start?: number;
  /** Runs of residual signs (NR). */
  runs: number;
  /** Newest minus oldest sample time, seconds. */
  span: number;
  /** Jitter asymmetry used to correct the offsets (estimated or configured), -0.5..+0.5; absent: 0. */
  asymmetry?: number;
}

/** What selection needs of one source at a given time. */
export interface SelectionData {
  /** Predicted local minus source at `now`, seconds. */
  offset: number;
  /** Standard error of `offset` at `now`, seconds. */
  offsetSd: number;
  /** Root delay via this source: its root delay plus our peer delay, seconds. */
  rootDelay: number;
  /**
   * Root dispersion via this source: its root dispersion, the last sample's
   * peer dispersion, the estimate's offsetSd and (skew + maxclockerror) times
   * the time since the last sample, seconds.
   */
  rootDispersion: number;
  /** rootDelay / 2 + rootDispersion, seconds. */
  rootDistance: number;
  /** offset - rootDistance, seconds. */
  lo: number;
  /** offset + rootDistance, seconds. */
  hi: number;
  /** Source's stratum (last sample). */
  stratum: number;
  /** Source's leap indicator (last sample). */
  leap: LeapIndicator;
  /** Frequency estimate, s/s. */
  frequency: number;
  /** Standard error of frequency, s/s. */
  frequencySd: number;
  /** Skew, s/s. */
  skew: number;
  /** Residual standard deviation (jitter), seconds. */
  stdDev: number;
  /** Samples kept. */
  samples: number;
  /** True when enough samples exist for the source to be selected. */
  enoughSamples: boolean;
  /** Samples needed before the source can be selected. */
  samplesNeeded?: number;
  /** Local time of the newest sample. */
  lastSampleTime: Timestamp;
  /** Local time of the oldest sample kept. */
  firstSampleTime: Timestamp;
}

/** One row of `chronyc sourcestats` plus the "Last sample" of `chronyc sources`. */
export interface SourceStatsReport {
  /** Name/IP Address. */
  name: string;
  /** NP: samples kept. */
  np: number;
  /** NR: runs of residual signs. */
  nr: number;
  /** Span, seconds. */
  span: number;
  /** Frequency, ppm (positive: local clock fast relative to the source). */
  frequencyPpm: number;
  /** Freq Skew, ppm. */
  skewPpm: number;
  /** Offset: estimated offset at `now`, seconds. */
  offset: number;
  /** Std Dev, seconds. */
  stdDev: number;
  /** The newest sample, or null if there is none. */
  lastSample: {
    /** Measured offset adjusted for later clock changes, seconds. */
    adjustedOffset: number;
    /** Offset as measured, seconds. */
    measuredOffset: number;
    /** Error margin (+/-): root delay / 2 + root dispersion of the sample, seconds. */
    error: number;
    /** Seconds between the sample and `now` (LastRx). */
    ago: number;
  } | null;
}

/** Peer-delay statistics used by the maxdelayratio / maxdelaydevratio tests. */
export interface DelayTestInputs {
  /** Minimum peer delay among kept samples, seconds (null if none). */
  minDelay: number | null;
  /** Sample standard deviation of the kept peer delays, seconds (0 below 2 samples). */
  delaySd: number;
  /** Samples kept. */
  samples: number;
}

/** A source's measurement history as `dumpdir` keeps it (see {@link SourceStats.history}). */
export interface StatsHistory {
  /** Oldest first. */
  samples: StoredSample[];
  /** Regressions in a row with a significant jitter asymmetry of one sign (negative: negative). */
  asymmetryRun: number;
}

/** One kept sample: its time and offset as corrected for later clock changes, and as measured. */
export interface StoredSample {
  time: Timestamp;
  offset: number;
  measuredOffset: number;
  sample: Sample;
}
type Stored = StoredSample;

/**
 * How far the one-way floors' offset may lie from the regression's and still
 * be used: {@linkcode FLOOR_GUARD} of the regression's standard errors plus
 * half the typical extra round-trip delay of the samples, the median delay
 * minus the 10th percentile (what a typical sample's queueing can hide: a
 * regression that leans on queued samples, e.g. through a jitter-asymmetry
 * correction, can be that far off while its standard error is small; a
 * timestamp error that puts a point far below a floor, and its delay below
 * all others, moves neither quantile and the estimate no further).
 *
 * @param offsetSd the regression's standard error of the offset, seconds
 * @param delays round-trip delays of the samples, seconds
 */
export function floorGuard(offsetSd: number, delays: readonly number[]): number {
  if (delays.length === 0) return FLOOR_GUARD * offsetSd;
  const d = [...delays].sort((a, b) => a - b);
  const q = (p: number): number => {
    const x = p * (d.length - 1), k = Math.floor(x), f = x - k;
    return k + 1 < d.length ? d[k]! + f * (d[k + 1]! - d[k]!) : d[k]!;
  };
  return FLOOR_GUARD * offsetSd + (q(0.5) - q(0.1)) / 2;
}

/** Two-sided 95 % Student t quantile (Cornish–Fisher expansion around 1.96). */
function studentT95(dof: number): number {
  const z = 1.959964;
  if (dof <= 0) return 12.71;
  if (dof === 1) return 12.71;
  if (dof === 2) return 4.303;
  const z3 = z * z * z, z5 = z3 * z * z;
  return z + (z3 + z) / (4 * dof) + (5 * z5 + 16 * z3 + 3 * z) / (96 * dof * dof);
}

/**
 * Jitter asymmetry of a set of samples (see the module doc): the coefficient
 * `a` of the least-squares fit `offset = c + f * time + a * excessDelay`, or 0
 * when there are too few samples or `a` is not significant; clamped to ±0.5.
 *
 * @param time sample times, seconds (any origin)
 * @param offset offsets (local minus source), seconds
 * @param delay round-trip delays, seconds
 */
export function estimateAsymmetry(
  time: readonly number[],
  offset: readonly number[],
  delay: readonly number[],
): number {
  const f = fitAsymmetry(time, offset, delay);
  return f !== null && Math.abs(f.t) >= ASYMMETRY_T ? f.asymmetry : 0;
}

/**
 * The fit behind {@linkcode estimateAsymmetry}: `a` clamped to ±0.5 and its
 * t statistic (a over its robust standard error), or null with too few
 * samples or no spread of delays.
 */
export function fitAsymmetry(
  time: readonly number[],
  offset: readonly number[],
  delay: readonly number[],
): { asymmetry: number; t: number } | null {
  if (time.length < ASYMMETRY_MIN_SAMPLES || offset.length !== time.length) return null;
  if (delay.length !== time.length) return null;
  // A few samples of very long delay would decide the fit alone: samples whose
  // excess delay is above ASYMMETRY_CAP times the median excess are left out
  // (a choice made on the delays only, so it does not bias the fit).
  const minDelay = Math.min(...delay);
  const sorted = delay.map((d) => d - minDelay).sort((a, b) => a - b);
  const cap = ASYMMETRY_CAP * sorted[Math.floor(sorted.length / 2)]!;
  const keep = delay.map((d, i) => d - minDelay <= cap ? i : -1).filter((i) => i >= 0);
  const n = keep.length;
  if (n < ASYMMETRY_MIN_SAMPLES) return null;
  time = keep.map((i) => time[i]!);
  offset = keep.map((i) => offset[i]!);
  const ex = keep.map((i) => delay[i]! - minDelay);
  let mt = 0, my = 0, md = 0;
  for (let i = 0; i < n; i++) {
    mt += time[i]!;
    my += offset[i]!;
    md += ex[i]!;
  }
  mt /= n;
  my /= n;
  md /= n;
  let stt = 0, sdd = 0, std = 0, sty = 0, sdy = 0;
  for (let i = 0; i < n; i++) {
    const t = time[i]! - mt, d = ex[i]! - md, y = offset[i]! - my;
    stt += t * t;
    sdd += d * d;
    std += t * d;
    sty += t * y;
    sdy += d * y;
  }
  const det = stt * sdd - std * std;
  // No spread of delays (or delays that follow time exactly): nothing to estimate.
  if (!(det > 1e-12 * stt * sdd) || sdd <= 0) return null;
  const f = (sty * sdd - sdy * std) / det;
  const a = (sdy * stt - sty * std) / det;
  // Standard error of `a` robust to noise that grows with the delay (a queued
  // sample's offset error spreads with its queueing) and to single samples of
  // very long delay that pull the fit: a = sum c_i y_i, so var(a) ~ sum c_i^2
  // r_i^2 / (1 - h_i)^2 with h_i the leverage of sample i (the "HC3" form of
  // White's estimator).
  let v = 0;
  for (let i = 0; i < n; i++) {
    const t = time[i]! - mt, d = ex[i]! - md;
    const r = (offset[i]! - my) - f * t - a * d;
    const c = (d * stt - t * std) / det;
    const h = Math.min(1 / n + (t * t * sdd - 2 * t * d * std + d * d * stt) / det, 0.999);
    v += (c * c * r * r) / ((1 - h) * (1 - h));
  }
  const se = Math.sqrt(v);
  if (!(se > 0)) return null;
  return { asymmetry: Math.max(-MAX_ASYMMETRY, Math.min(MAX_ASYMMETRY, a)), t: a / se };
}

/**
 * How much wider than the regression's own standard error of the slope
 * (which assumes the same noise at every point around a straight line) its
 * leverage-corrected robust one is (the "HC3" form of White's estimator, as
 * in {@linkcode fitAsymmetry}), at least 1. A few samples far off the line
 * at one end of the window, where they weigh most on the slope (the first
 * samples after a step of the source: a line through the step claims a
 * slope of hundreds of ppm known to a third of itself, issue 17), widen it;
 * evenly spread noise leaves it about 1.
 *
 * @param x sample times, seconds; `y` offsets, seconds; `w` their weights
 * @param fit the first point used (`start`) and the line through the points used
 */
export function robustSlopeFactor(
  x: readonly number[],
  y: readonly number[],
  w: readonly number[],
  fit: { start: number; intercept: number; slope: number; slopeSd: number },
): number {
  let sw = 0, swx = 0;
  for (let i = fit.start; i < x.length; i++) {
    sw += w[i]!;
    swx += w[i]! * x[i]!;
  }
  const xm = swx / sw;
  let sxx = 0;
  for (let i = fit.start; i < x.length; i++) sxx += w[i]! * (x[i]! - xm) ** 2;
  if (!(sxx > 0) || !(fit.slopeSd > 0)) return 1;
  let v = 0;
  for (let i = fit.start; i < x.length; i++) {
    const r = y[i]! - fit.intercept - fit.slope * x[i]!;
    const c = w[i]! * (x[i]! - xm) / sxx;
    const h = Math.min(w[i]! * (1 / sw + (x[i]! - xm) ** 2 / sxx), 0.999);
    v += (c * r) ** 2 / ((1 - h) * (1 - h));
  }
  return Math.max(1, Math.sqrt(v) / fit.slopeSd);
}

/** `sourcestats` skew (ppm) and standard deviation (s) before a regression exists (chronyd). */
const UNFIT_SKEW_PPM = 2000;
const UNFIT_SD = 4;

/** Statistics of one source: stored samples and the regression through them. */
export class SourceStats {
  /** Name shown in reports. */
  readonly name: string;
  /** minsamples. */
  readonly minSamples: number;
  /** Effective maximum of samples kept (1..64). */
  readonly maxSamples: number;
  /** maxclockerror, s/s. */
  readonly maxClockError: number;
  /** Configured asymmetry (no estimation), or null. */
  readonly fixedAsymmetry: number | null;
  /** Whether the one-way floors may give the offset. */
  readonly floors: boolean;
  #asymmetry = 0;
  /** Regressions in a row with a significant asymmetry of one sign (negative: of negative sign). */
  #asymmetryRun = 0;
  /** The next regression follows a new sample. */
  #newSample = false;
  /**
   * Samples dropped by regressions run without a new sample (after a clock
   * correction, a restore), reported in the next new sample's estimate
   * (`start`), so statistics.log's Ns and Bs account for every drop.
   */
  #unreportedDrops = 0;
  #samples: Stored[] = [];
  #estimate: SourceEstimate | null = null;

  /** @param options name and the minsamples/maxsamples/maxclockerror settings */
  constructor(options: SourceStatsOptions) {
    this.name = options.name;
    const maxConf = options.maxSamples ?? 0;
    this.maxSamples = maxConf <= 0 ? MAX_SAMPLES_LIMIT : Math.min(maxConf, MAX_SAMPLES_LIMIT);
    this.minSamples = Math.min(options.minSamples ?? DEFAULT_MIN_SAMPLES, this.maxSamples);
    this.maxClockError = options.maxClockError ?? DEFAULT_MAX_CLOCK_ERROR;
    this.fixedAsymmetry = options.asymmetry ?? null;
    this.floors = options.floors ?? false;
    this.#asymmetry = this.fixedAsymmetry ?? 0;
  }

  /** Jitter asymmetry in use: the configured one, else the last estimate (0 when not significant). */
  get asymmetry(): number {
    return this.#asymmetry;
  }

  /** Samples kept now. */
  get sampleCount(): number {
    return this.#samples.length;
  }

  /** The current estimate (after the last regression), or null with no samples. */
  estimate(): SourceEstimate | null {
    return this.#estimate;
  }

  /** Adds a sample (newest last), trims to maxsamples, re-runs the regression and returns it. */
  accumulate(sample: Sample): SourceEstimate {
    // F323: the source's own correction comes out of the stored offsets (frequency transfer)
    const c = sample.serverCorrection ?? 0;
    if (c !== 0) this.#samples = this.#samples.map((e) => ({ ...e, offset: e.offset - c }));
    const last = this.#samples.at(-1);
    if (last !== undefined && sample.time < last.time) {
      // Out-of-order samples would break the runs test ordering: insert in place.
      const i = this.#samples.findIndex((s) => s.time > sample.time);
      this.#samples.splice(i, 0, {
        time: sample.time,
        offset: sample.offset,
        measuredOffset: sample.offset,
        sample,
      });
    } else {
      this.#samples.push({
        time: sample.time,
        offset: sample.offset,
        measuredOffset: sample.offset,
        sample,
      });
    }
    while (this.#samples.length > this.maxSamples) this.#samples.shift();
    this.#newSample = true;
    return this.regress();
  }

  /** Drops all samples (e.g. after a source reset or a large step). */
  reset(): void {
    this.#samples = [];
    this.#estimate = null;
    this.#unreportedDrops = 0;
    this.#asymmetry = this.fixedAsymmetry ?? 0;
    this.#asymmetryRun = 0;
  }

  /** Weights of the kept samples, oldest first (see the module doc). */
  weights(): number[] {
    const s = this.#samples;
    if (s.length === 0) return [];
    let minDelay = Infinity, minDisp = Infinity;
    for (const e of s) {
      minDelay = Math.min(minDelay, e.sample.peerDelay);
      minDisp = Math.min(minDisp, e.sample.peerDispersion);
    }
    const divisor = Math.min(WEIGHT_SCALE_DIVISOR, Math.max(4, s.length / 2));
    const scale = Math.max(this.delayTestInputs().delaySd / divisor, 1e-9);
    return s.map((e) => {
      const excess = (e.sample.peerDelay - minDelay) / 2 + (e.sample.peerDispersion - minDisp);
      const r = excess / scale;
      return 1 / (1 + r * r);
    });
  }

  /**
   * Runs the regression over the kept samples, drops the old ones the runs
   * test rejects (never below minsamples) and stores the estimate.
   * @throws {RangeError} when no samples are kept
   */
  regress(): SourceEstimate {
    const s = this.#samples;
    const newest = s.at(-1);
    if (newest === undefined) throw new RangeError("SourceStats.regress: no samples");
    const refTime = newest.time;
    const oldest = s[0]!;
    if (s.length === 1 || this.maxSamples === 1) {
      this.#estimate = {
        refTime,
        offset: newest.offset,
        offsetSd: newest.sample.peerDispersion,
        frequency: 0,
        frequencySd: this.maxSamples === 1 ? 0 : UNKNOWN_SKEW,
        skew: this.maxSamples === 1 ? 0 : UNKNOWN_SKEW,
        stdDev: newest.sample.peerDispersion,
        samples: s.length,
        runs: 1,
        span: diffSeconds(refTime, oldest.time),
        asymmetry: this.#asymmetry,
      };
      return this.#estimate;
    }
    const x = s.map((e) => diffSeconds(e.time, refTime));
    const d = s.map((e) => e.sample.peerDelay);
    const raw = s.map((e) => e.offset);
    this.#asymmetry = this.fixedAsymmetry ??
      this.#persistent(fitAsymmetry(x, raw, d), this.#newSample);
    const reported = this.#newSample;
    this.#newSample = false;
    const a = this.fixedAsymmetry === null ? this.#asymmetry : 0;
    const minDelay = Math.min(...d);
    const y = a === 0 ? raw : raw.map((o, i) => o - a * (d[i]! - minDelay));
    const weights = this.weights();
    const fit = regress(x, y, weights, { minKeep: this.minSamples, steps: true });
    if (fit.start > 0) this.#samples = s.slice(fit.start);
    const start = this.#unreportedDrops + fit.start;
    this.#unreportedDrops = reported ? 0 : start;
    const kept = this.#samples;
    // A step of the source among the newest samples (regression.ts findStep): the fit is of the
    // samples before fit.end, those before the step shifted by it; the rest follows suit.
    const shift = (v: number, i: number) =>
      fit.step !== null && i < fit.step.at ? v + fit.step.size : v;
    const fx = x.slice(0, fit.end), fy = y.slice(0, fit.end).map(shift);
    const fw = weights.slice(0, fit.end);
    const dof = fit.used - (fit.step === null ? 2 : 3);
    // With two samples nothing measures the noise: fall back to a floor from dispersions.
    const floor = Math.min(...kept.map((e) => e.sample.peerDispersion));
    // With few samples the residuals may line up by chance and promise far
    // more than the link gives: the spread of the round-trip delays (half of
    // it is what jitter does to an offset) bounds the noise from below.
    const jitterSd = dof < FEW_DOF ? this.delayTestInputs().delaySd / 2 : 0;
    const inflate = dof > 0 && fit.residualSd > 0 ? Math.max(1, jitterSd / fit.residualSd) : 1;
    const residualSd = dof > 0 ? fit.residualSd * inflate : floor;
    // From ROBUST_MIN_SAMPLES on, the slope's error is the larger of the fit's and the robust one.
    const robust = fit.used >= ROBUST_MIN_SAMPLES ? robustSlopeFactor(fx, fy, fw, fit) : 1;
    const frequencySd = dof > 0 ? fit.slopeSd * inflate * robust : UNKNOWN_SKEW;
    // With few samples a slope that the noise could make (within FLAT_T of its
    // standard error) would carry its error into the offset at the newest
    // sample: the offset is then their weighted mean (a flat fit).
    let offset = fit.intercept;
    if (dof < FEW_DOF && Math.abs(fit.slope) < FLAT_T * frequencySd) {
      const w = this.weights();
      let sw = 0, swy = 0;
      for (let i = fit.start; i < fit.end; i++) {
        sw += w[i - fit.start]!;
        swy += w[i - fit.start]! * fy[i]!;
      }
      offset = swy / sw;
    }
    const offsetSd = dof > 0 ? fit.interceptSd * inflate : floor;
    // One-way floors (lib/clock/envelope.ts): each direction's queueing removed by its own
    // luckiest packets; kept only while within floorGuard() of the regression's offset.
    if (
      this.floors && this.fixedAsymmetry === null && fit.used >= FLOOR_MIN_SAMPLES &&
      fit.step === null && fit.end === x.length
    ) {
      const kd = d.slice(fit.start);
      const ff = floorFit(x.slice(fit.start), raw.slice(fit.start), kd);
      if (ff !== null && Math.abs(ff.intercept - offset) <= floorGuard(offsetSd, kd)) {
        offset = ff.intercept;
      }
    }
    this.#estimate = {
      refTime,
      offset,
      offsetSd,
      frequency: fit.slope,
      frequencySd,
      skew: dof > 0 ? frequencySd * studentT95(dof) : UNKNOWN_SKEW,
      stdDev: residualSd,
      samples: kept.length,
      start,
      runs: fit.runs,
      span: diffSeconds(refTime, kept[0]!.time),
      asymmetry: this.#asymmetry,
    };
    return this.#estimate;
  }

  /** The estimate once it has been significant with the same sign ASYMMETRY_RUN times in a row. */
  #persistent(fit: { asymmetry: number; t: number } | null, count: boolean): number {
    const r = this.#asymmetryRun;
    const on = Math.abs(r) >= ASYMMETRY_RUN;
    // Once in use, the estimate stays while it keeps its sign and ASYMMETRY_T_KEEP (hysteresis:
    // an estimate that comes and goes would move the offsets back and forth).
    const t = fit === null ? 0 : fit.t;
    const significant = on && Math.sign(t) === Math.sign(r)
      ? Math.abs(t) >= ASYMMETRY_T_KEEP
      : Math.abs(t) >= ASYMMETRY_T;
    const a = significant && fit !== null ? fit.asymmetry : 0;
    // Only a new sample moves the run (regressions after clock changes see the same data).
    if (count) this.#asymmetryRun = a === 0 ? 0 : a > 0 ? Math.max(r, 0) + 1 : Math.min(r, 0) - 1;
    const run = this.#asymmetryRun;
    return Math.abs(run) >= ASYMMETRY_RUN && Math.sign(a) === Math.sign(run) ? a : 0;
  }

  /**
   * A sample's offset corrected by the estimated jitter asymmetry, as the
   * regression sees it (unchanged when the asymmetry is configured: the
   * source has applied it already).
   */
  correctedOffset(sample: Sample): number {
    if (this.fixedAsymmetry !== null || this.#asymmetry === 0) return sample.offset;
    let minDelay = sample.peerDelay;
    for (const e of this.#samples) minDelay = Math.min(minDelay, e.sample.peerDelay);
    return sample.offset - this.#asymmetry * (sample.peerDelay - minDelay);
  }

  /** Predicted local minus source at local time `t`, seconds (null with no samples). */
  predictOffset(t: Timestamp): number | null {
    const e = this.#estimate;
    if (e === null) return null;
    return e.offset + e.frequency * diffSeconds(t, e.refTime);
  }

  /**
   * Rewrites stored samples as if the local clock had always run with its new
   * phase and rate: a sample at local time `t` moves (in both its time label
   * and its offset) by `doffset + dfreq * (t - change.time)`. The regression
   * is re-run; the measured offsets shown in reports are kept as they were.
   */
  correctForClockChange(change: ClockChange): void {
    if (this.#samples.length === 0) return;
    this.#samples = this.#samples.map((e) => {
      const delta = change.doffset + change.dfreq * diffSeconds(e.time, change.time);
      return { ...e, time: addSeconds(e.time, delta), offset: e.offset + delta };
    });
    this.regress();
  }

  /** The measurement history (for `dumpdir`; lib/clock/history.ts writes it). */
  history(): StatsHistory {
    return {
      samples: this.#samples.map((e) => ({ ...e, sample: { ...e.sample } })),
      asymmetryRun: this.#asymmetryRun,
    };
  }

  /**
   * Replaces the samples with a saved history (`chronyd -r`), newest
   * `maxSamples` kept, and runs the regression; false (nothing changed) when
   * the history is empty or its times are not in order.
   */
  restore(h: StatsHistory): boolean {
    const s = h.samples.slice(-this.maxSamples);
    if (s.length === 0) return false;
    for (let i = 1; i < s.length; i++) if (s[i]!.time < s[i - 1]!.time) return false;
    this.#samples = s.map((e) => ({ ...e, sample: { ...e.sample } }));
    this.#asymmetryRun = this.fixedAsymmetry === null ? h.asymmetryRun : 0;
    this.#newSample = false;
    this.regress();
    return true;
  }

  /** Inputs of the maxdelayratio / maxdelaydevratio tests over the kept samples. */
  delayTestInputs(): DelayTestInputs {
    const d = this.#samples.map((e) => e.sample.peerDelay);
    if (d.length === 0) return { minDelay: null, delaySd: 0, samples: 0 };
    const mean = d.reduce((a, b) => a + b, 0) / d.length;
    const v = d.length > 1 ? d.reduce((a, b) => a + (b - mean) ** 2, 0) / (d.length - 1) : 0;
    return { minDelay: Math.min(...d), delaySd: Math.sqrt(v), samples: d.length };
  }

  /** Selection data at local time `now`, or null with no samples. */
  getSelectionData(now: Timestamp): SelectionData | null {
    const e = this.#estimate;
    const last = this.#samples.at(-1);
    if (e === null || last === undefined) return null;
    const elapsed = Math.abs(diffSeconds(now, last.time));
    const sinceRef = diffSeconds(now, e.refTime);
    const offset = e.offset + e.frequency * sinceRef;
    const offsetSd = Math.hypot(e.offsetSd, e.frequencySd * sinceRef);
    const rootDelay = last.sample.rootDelay + last.sample.peerDelay;
    const rootDispersion = last.sample.rootDispersion + last.sample.peerDispersion + e.offsetSd +
      elapsed * (e.skew + this.maxClockError);
    const rootDistance = rootDelay / 2 + rootDispersion;
    // A source can never hold more than maxsamples: selectable once it has them all.
    const needed = Math.min(this.maxSamples, MIN_SAMPLES_FOR_SELECTION);
    return {
      offset,
      offsetSd,
      rootDelay,
      rootDispersion,
      rootDistance,
      lo: offset - rootDistance,
      hi: offset + rootDistance,
      stratum: last.sample.stratum,
      leap: last.sample.leap,
      frequency: e.frequency,
      frequencySd: e.frequencySd,
      skew: e.skew,
      stdDev: e.stdDev,
      samples: e.samples,
      enoughSamples: e.samples >= needed,
      samplesNeeded: needed,
      lastSampleTime: last.time,
      firstSampleTime: this.#samples[0]!.time,
    };
  }

  /** The `chronyc sourcestats` row and `chronyc sources` last sample at local time `now`. */
  report(now: Timestamp): SourceStatsReport {
    const e = this.#estimate;
    const last = this.#samples.at(-1);
    // Below 3 samples chronyd 4.3 reports no regression: 0 runs, frequency 0,
    // skew 2000 ppm, the newest sample's offset and a standard deviation of 4 s.
    const fit = e !== null && e.samples >= 3;
    return {
      name: this.name,
      np: e?.samples ?? 0,
      nr: fit ? e.runs : 0,
      span: e?.span ?? 0,
      frequencyPpm: fit ? e.frequency * 1e6 : 0,
      skewPpm: fit ? e.skew * 1e6 : UNFIT_SKEW_PPM,
      offset: fit ? this.predictOffset(now) ?? 0 : last?.offset ?? 0,
      stdDev: fit ? e.stdDev : UNFIT_SD,
      lastSample: last === undefined ? null : {
        adjustedOffset: last.offset,
        measuredOffset: last.measuredOffset,
        error: (last.sample.rootDelay + last.sample.peerDelay) / 2 + last.sample.rootDispersion +
          last.sample.peerDispersion,
        ago: diffSeconds(now, last.time),
      },
    };
  }
}
