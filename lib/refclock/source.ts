/**
 * One reference clock as a time source, sans IO: raw samples from its
 * driver (see `driver.ts`) go through the `offset` correction, PPS
 * completion and the median filter; every 2^poll seconds `onTimer` turns
 * what was collected into one {@link Sample} for source statistics and
 * selection, with the refclock options of chrony.conf(5):
 *
 * - `offset` is subtracted from each sample's offset (local − reference):
 *   NMEA that arrives 0.5 s after the second is corrected by `offset 0.5`;
 * - `delay` becomes the sample's peer delay (half of it in the error bound,
 *   as chrony.conf(5) says), root delay and dispersion are 0;
 * - `precision` is each raw sample's dispersion (default: the system clock's);
 * - `stratum`, `maxdispersion` (filtered samples above it are dropped);
 * - `pps` / pulse samples know only where the second is: with `lock REFID`
 *   they are completed from that refclock's last sample no older than
 *   `maxlockage` pulses, else from the local clock, only while it is
 *   synchronised (`rate` pulses per second). A completion further than
 *   0.4 pulse from a whole pulse is refused (our margin);
 * - `width`: with pulses of both edges, the tolerance becomes half the
 *   shorter of the pulse and the gap, and a pulse outside it (the other
 *   edge) is refused, also when completed from the local clock.
 *
 * - `local` (chrony.conf(5) 4.3+): an unsynchronised clock more stable than
 *   the system clock. Its filtered samples carry leap 3, so selection never
 *   uses it (`#?`, selectdata `s`, leap `?`, as chronyd 4.8 shows it), and
 *   {@linkcode RefclockSource.follow} turns each change of its estimate
 *   (frequency, and offset off the prediction) into a correction of the
 *   system clock, synchronised or not ({@linkcode followClock}).
 *
 * The driver's own polling (`dpoll`) is the IO edge's business.
 *
 * @example
 * ```ts
 * import { RefclockSource } from "./source.ts";
 * const rc = new RefclockSource({ name: "GPS", poll: 4, filter: 64, offset: 0, delay: 1e-9, precision: 1e-6 });
 * rc.start(0n);
 * rc.onTimer(0n); // null: the first poll is at start, with no samples yet
 * rc.addSample({ time: 1_000_000_000n, offset: 2e-6, leap: 0, pulse: false });
 * rc.nextTimer; // 16_000_000_000n: onTimer(now) then yields the filtered Sample (or null)
 * ```
 * @module
 */
import type { Clock } from "../clock/clock.ts";
import type { ClockChange } from "../clock/sourcestats.ts";
import type { LeapIndicator, Sample } from "../clock/sample.ts";
import { ReachRegister } from "../ntp/reach.ts";
import { addSeconds, diffSeconds, type Timestamp } from "../time/timestamp.ts";
import { MedianFilter } from "./median_filter.ts";

/** A raw sample from a driver. */
export interface DriverSample {
  /** Local (cooked) time of the measurement. */
  time: Timestamp;
  /**
   * Local clock minus the reference's, seconds, before the `offset` option.
   * For a pulse only the fraction of a pulse period is meaningful.
   */
  offset: number;
  /** Leap indicator announced by the driver (3: the reference is not synchronised). */
  leap: LeapIndicator;
  /** True when the sample marks a pulse (PPS) without the whole seconds. */
  pulse: boolean;
}

/** Options of one refclock (the subset of `RefclockConfig` the core uses). */
export interface RefclockSourceOptions {
  /** Reference ID text (up to 4 ASCII characters), shown by chronyc. */
  name: string;
  /** log2 seconds between filtered samples. */
  poll: number;
  /** Median filter length, samples. */
  filter: number;
  /** Seconds subtracted from every sample's offset. */
  offset: number;
  /** Seconds, the source's delay. */
  delay: number;
  /** Seconds, dispersion of each raw sample. */
  precision: number;
  /** Stratum of the refclock (0 by default). */
  stratum?: number;
  /** Seconds; filtered samples with more dispersion are dropped. Absent: no limit. */
  maxDispersion?: number;
  /** Treat every sample as a pulse. */
  pps?: boolean;
  /** Pulses per second (PPS completion). */
  rate?: number;
  /** Name of the refclock pulses are completed from. */
  lock?: string;
  /** Pulses a lock sample may be old. */
  maxLockAge?: number;
  /**
   * Seconds, the width of the pulses when the driver reports both edges:
   * a pulse further than half the shorter of the pulse and the gap from a
   * whole pulse (as completed) is the other edge and is refused.
   */
  width?: number;
  /** Observer of each filtered sample handed on (refclocks.log). */
  onFiltered?: (sample: Sample) => void;
  /** `local`: an unsynchronised stable clock the system clock follows (see the module doc). */
  local?: boolean;
}

/** A correction of the system clock that keeps it following a `local` refclock. */
export interface FollowAdjustment {
  /** s/s; positive: the system clock gains more on the refclock than before (slow it down). */
  dfreq: number;
  /** Seconds; positive: the system clock is ahead of the prediction (slew it back). */
  doffset: number;
}

/** Samples a `local` refclock's estimate needs before the clock follows it (our choice). */
export const FOLLOW_MIN_SAMPLES = 3;

/**
 * Applies a {@link FollowAdjustment} to the clock: the frequency moves by
 * `dfreq` (as `chronyc dfreq` would) and `doffset` is slewed away.
 */
export function followClock(clock: Clock, f: FollowAdjustment): void {
  if (f.dfreq !== 0) {
    const c = clock.readFrequency() * 1e-6;
    clock.setFrequency((c + f.dfreq * (1 - c)) * 1e6);
  }
  if (f.doffset !== 0) clock.accumulateOffset(f.doffset, 0);
}

/** Why a raw sample was refused (also the log text). */
export type SampleRejection =
  | "no lock sample"
  | "lock sample too far from a pulse"
  | "not synchronised"
  | "reference unsynchronised"
  | "pulse of the other edge";

/** The last accepted complete sample (for refclocks locked to this one). */
export interface LockSample {
  time: Timestamp;
  /** Local minus reference after the `offset` option, seconds. */
  offset: number;
}

/** Tolerance of PPS completion, in pulse periods (our choice). */
export const PULSE_COMPLETION_TOLERANCE = 0.4;

/** Reference ID of a refclock name: up to four ASCII bytes, big-endian, zero padded. */
export function refclockRefId(name: string): number {
  let id = 0;
  for (let i = 0; i < 4; i++) id = id * 256 + (i < name.length ? name.charCodeAt(i) & 0xff : 0);
  return id >>> 0;
}

/**
 * Default refid of the `index`-th refclock (0-based, counting every
 * refclock): the first three letters of the driver and the index
 * (chrony.conf(5) `refid`).
 */
export function defaultRefclockName(driver: string, index: number): string {
  return `${driver.slice(0, 3)}${index}`.slice(0, 4);
}

/** See the module doc. */
export class RefclockSource {
  options: Readonly<RefclockSourceOptions>;
  readonly refId: number;
  readonly reach: ReachRegister = new ReachRegister();
  readonly #filter: MedianFilter;
  #nextTimer: Timestamp | null = null;
  #leap: LeapIndicator = 0;
  #last: LockSample | null = null;
  /** `local`: the estimate the clock follows (time, offset at it, frequency), corrected for clock changes. */
  #followed: { time: Timestamp; offset: number; frequency: number } | null = null;
  /** Raw samples accepted / refused since start (chronyc-style counters). */
  accepted = 0;
  rejected = 0;

  constructor(options: RefclockSourceOptions) {
    this.options = options;
    this.refId = refclockRefId(options.name);
    this.#filter = new MedianFilter(options.filter);
  }

  /** chronyc 4.8 `offset`: a new offset correction for the samples to come, seconds. */
  setOffset(offset: number): void {
    this.options = { ...this.options, offset };
  }

  /** Poll interval, log2 seconds. */
  get poll(): number {
    return this.options.poll;
  }

  /** When `onTimer` is due (cooked local time), or null before start. */
  get nextTimer(): Timestamp | null {
    return this.#nextTimer;
  }

  /** The last complete sample accepted (what a locked PPS refclock pairs with). */
  get lastSample(): LockSample | null {
    return this.#last;
  }

  /** Samples waiting for the next poll. */
  get pending(): number {
    return this.#filter.size;
  }

  /**
   * Starts the poll timer: the first poll is due at once (`now`), as chronyd
   * polls a refclock first at start (that poll, without samples, still counts
   * in the reach register and towards the 8 polls of the start-up selection).
   */
  start(now: Timestamp): void {
    this.#nextTimer = now;
  }

  /**
   * Takes one raw sample. `lock` is the last sample of the `lock` refclock
   * (null if none); `synchronised` says whether the local clock may
   * complete unlocked pulses. Returns null when accepted.
   */
  addSample(
    s: DriverSample,
    ctx: { lock?: LockSample | null; synchronised?: boolean } = {},
  ): SampleRejection | null {
    let offset = s.offset - this.options.offset;
    const rate = this.options.rate ?? 1;
    if (s.pulse || this.options.pps) {
      const width = this.options.width;
      const edgeTolerance = width !== undefined && width > 0 && width * rate < 1
        ? Math.min(width * rate, 1 - width * rate) / 2
        : null;
      if (this.options.lock !== undefined) {
        const l = ctx.lock ?? null;
        const maxAge = (this.options.maxLockAge ?? 2) / rate;
        if (l === null || Math.abs(diffSeconds(s.time, l.time)) > maxAge) {
          return this.#reject("no lock sample");
        }
        const pulses = (l.offset - offset) * rate;
        const whole = Math.round(pulses);
        if (edgeTolerance !== null && Math.abs(pulses - whole) > edgeTolerance) {
          return this.#reject("pulse of the other edge");
        }
        if (Math.abs(pulses - whole) > PULSE_COMPLETION_TOLERANCE) {
          return this.#reject("lock sample too far from a pulse");
        }
        offset += whole / rate;
      } else {
        if (!ctx.synchronised) return this.#reject("not synchronised");
        const rest = offset - Math.round(offset * rate) / rate;
        if (edgeTolerance !== null && Math.abs(rest * rate) > edgeTolerance) {
          return this.#reject("pulse of the other edge");
        }
        offset = rest;
      }
    } else if (s.leap === 3) {
      return this.#reject("reference unsynchronised");
    }
    if (!s.pulse) this.#leap = s.leap;
    this.#last = { time: s.time, offset };
    this.#filter.add({ time: s.time, offset, dispersion: this.options.precision });
    this.accepted++;
    return null;
  }

  /**
   * The poll is due: the filtered sample of the interval, or null (too few
   * samples, or above `maxdispersion`). Updates the reach register.
   */
  onTimer(now: Timestamp): Sample | null {
    const step = 2 ** this.options.poll;
    let next = this.#nextTimer ?? now;
    while (next <= now) next = addSeconds(next, step);
    this.#nextTimer = next;
    this.reach.polled();
    const out = this.#filter.output();
    if (out === null) return null;
    const max = this.options.maxDispersion;
    if (max !== undefined && out.dispersion > max) return null;
    this.reach.received();
    // a `local` refclock is unsynchronised: never selected
    const leap: LeapIndicator = this.options.local ? 3 : this.#leap;
    const sample: Sample = {
      time: out.time,
      offset: out.offset,
      peerDelay: this.options.delay,
      peerDispersion: out.dispersion,
      rootDelay: 0,
      rootDispersion: 0,
      stratum: this.options.stratum ?? 0,
      leap,
    };
    this.options.onFiltered?.(sample);
    return sample;
  }

  /**
   * `local` option: given this refclock's statistics estimate after a new
   * sample, how the system clock must change to keep following it since the
   * previous call (null for the first estimate of at least
   * {@link FOLLOW_MIN_SAMPLES} samples, the starting point, and for a
   * refclock without `local`). The estimate becomes the new starting point;
   * {@linkcode correctForClockChange} keeps it in step with clock changes.
   */
  follow(
    e: { refTime: Timestamp; offset: number; frequency: number; samples: number },
    now: Timestamp,
  ): FollowAdjustment | null {
    if (!this.options.local || e.samples < FOLLOW_MIN_SAMPLES) return null;
    const prev = this.#followed;
    const offset = e.offset + e.frequency * diffSeconds(now, e.refTime);
    this.#followed = { time: now, offset, frequency: e.frequency };
    if (prev === null) return null;
    const predicted = prev.offset + prev.frequency * diffSeconds(now, prev.time);
    return { dfreq: e.frequency - prev.frequency, doffset: offset - predicted };
  }

  /** Moves the pending samples after a clock change. */
  correctForClockChange(change: ClockChange): void {
    this.#filter.correctForClockChange(change);
    if (this.#followed) {
      const f = this.#followed;
      const delta = change.doffset + change.dfreq * diffSeconds(f.time, change.time);
      this.#followed = {
        time: addSeconds(f.time, delta),
        offset: f.offset + delta,
        frequency: f.frequency + change.dfreq,
      };
    }
    if (this.#last) {
      const delta = change.doffset + change.dfreq * diffSeconds(this.#last.time, change.time);
      this.#last = {
        time: addSeconds(this.#last.time, delta),
        offset: this.#last.offset + delta,
      };
    }
  }

  /** Forgets pending samples (`reset sources`, a clock step). */
  reset(): void {
    this.#filter.clear();
    this.#last = null;
    this.#followed = null;
  }

  #reject(why: SampleRejection): SampleRejection {
    this.rejected++;
    return why;
  }
}
