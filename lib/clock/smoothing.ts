/**
 * Server time smoothing (chrony.conf(5) `smoothtime`, chronyc `smoothing`,
 * `smoothtime activate|reset`): the time the NTP server hands out is the
 * clock's cooked time plus a smoothing offset that absorbs the corrections
 * made to the clock and gives them back slowly, with a frequency offset never
 * beyond `maxFreq` and changing at most `maxWander` per second.
 *
 * The model (horae's, fitted to chronyd 4.3 observed on loopback): after every
 * correction of the clock the offset `o` and frequency `f` of the served time
 * are re-planned as a quadratic spline of two or three pieces that reaches
 * offset 0 and frequency 0 as early as the limits allow:
 * 1. the frequency moves at ±maxWander towards a peak `p` of the sign that
 *    brings the offset back to zero,
 * 2. stays at `p = ±maxFreq` while the peak would exceed the limit (only then),
 * 3. returns to zero at ∓maxWander.
 * Without the limit, `p² = (f² - 2·d·w·o) / 2` with `d` the sign of `p`
 * (the sign that the "stopping offset" `o + f|f|/(2w)` asks for). A leap of
 * one second smeared alone takes `sqrt(4 / w)` seconds, as chrony.conf(5)
 * says. Figures checked against chronyd 4.3: offset 0.1 s with 5 ppm and
 * 0.001 ppm/s takes 25000 s; with +1 ppm frequency as well, 26100 s.
 *
 * Signs: `offset` positive = clients get time ahead of the clock's cooked
 * time; `freq` positive = the served time gains on it. A correction that
 * moves the cooked clock back by x (`doffset = -x` in {@link ParameterChange})
 * adds x to the offset, so the served time does not jump.
 *
 * The process is inactive until {@link Smoothing.activate} (the daemon does
 * that when 1/10000 of the clock's skew falls below `maxWander`, or on
 * `smoothtime activate`). With `leaponly`, only leap seconds are smoothed;
 * steps reset the process, as chrony.conf(5) says.
 *
 * @example
 * ```ts
 * import { Smoothing } from "./smoothing.ts";
 * const s = new Smoothing({ maxFreqPpm: 400, maxWanderPpm: 0.001, leapOnly: false });
 * s.activate(0n);
 * s.update(0n, 0.1, 0); // the clock was moved back by 0.1 s
 * s.report(0n).remainingTime; // 20000 s
 * ```
 * @module
 */
import type { Timestamp } from "../time/timestamp.ts";
import type { ParameterChange } from "./clock.ts";

/** `smoothtime` parameters. */
export interface SmoothingOptions {
  /** Largest frequency offset of the served time, ppm. */
  maxFreqPpm: number;
  /** Largest rate of change of that frequency, ppm per second. */
  maxWanderPpm: number;
  /** `leaponly`: smooth only leap seconds. */
  leapOnly: boolean;
}

/** What `chronyc smoothing` shows (ppm and seconds). */
export interface SmoothingState {
  active: boolean;
  leapOnly: boolean;
  /** Offset of the served time, s (positive: ahead). */
  offset: number;
  /** Frequency offset of the served time, ppm. */
  freqPpm: number;
  /** Current wander, ppm per second. */
  wanderPpm: number;
  /** Seconds since the last update. */
  lastUpdateAgo: number;
  /** Seconds until offset and frequency reach zero without more updates. */
  remainingTime: number;
}

/** One piece of the spline: `duration` seconds at constant wander `wander` (1/s²). */
export interface Piece {
  duration: number;
  wander: number;
}

/** The reference ID chronyd serves while smoothing is in effect (127.127.1.255). */
export const SMOOTHING_REFID = 0x7f7f01ff;

function secondsBetween(a: Timestamp, b: Timestamp): number {
  return Number(b - a) / 1e9;
}

/**
 * The pieces that bring offset `o` (s) and frequency `f` (s/s) to zero with
 * wander at most `w` (1/s) and frequency at most `m`. Exported for tests.
 */
export function planPieces(o: number, f: number, w: number, m: number): Piece[] {
  if (o === 0 && f === 0) return [];
  if (!(w > 0)) return [];
  const stop = o + (f * Math.abs(f)) / (2 * w);
  if (stop === 0) return [{ duration: Math.abs(f) / w, wander: -Math.sign(f) * w }];
  const d = stop > 0 ? -1 : 1;
  const peakSq = (f * f - 2 * d * w * o) / 2;
  const peak = Math.min(Math.sqrt(Math.max(0, peakSq)), m);
  const p = d * peak;
  const t1 = Math.abs(p - f) / w;
  const a1 = p >= f ? w : -w;
  const t3 = peak / w;
  const a3 = -d * w;
  const o1 = f * t1 + (a1 * t1 * t1) / 2;
  const o3 = p * t3 + (a3 * t3 * t3) / 2;
  const t2 = p === 0 ? 0 : Math.max(0, -(o + o1 + o3) / p);
  const pieces: Piece[] = [];
  if (t1 > 0) pieces.push({ duration: t1, wander: a1 });
  if (t2 > 0) pieces.push({ duration: t2, wander: 0 });
  if (t3 > 0) pieces.push({ duration: t3, wander: a3 });
  return pieces;
}

/**
 * The whole state of the process (horae's `serverworkers` threads serve from
 * a copy: {@link Smoothing.plan}, {@link Smoothing.restore}).
 */
export interface SmoothingPlan {
  active: boolean;
  /** Time of the last update. */
  start: Timestamp;
  /** Offset (s) and frequency (s/s) at `start`. */
  o: number;
  f: number;
  /** At most three. */
  pieces: Piece[];
}

/** The smoothing process; see the module documentation. */
export class Smoothing {
  readonly options: SmoothingOptions;
  #active = false;
  #start: Timestamp = 0n;
  #o = 0;
  #f = 0;
  #pieces: Piece[] = [];

  constructor(options: SmoothingOptions) {
    this.options = options;
  }

  /** Whether the process runs (activated). */
  get active(): boolean {
    return this.#active;
  }

  /**
   * Starts the process at `now` with zero offset and frequency; returns false
   * if it was already active (nothing changes then).
   */
  activate(now: Timestamp): boolean {
    if (this.#active) return false;
    this.#active = true;
    this.reset(now);
    return true;
  }

  /** Offset, frequency and wander back to zero at `now` (`smoothtime reset`, a step). */
  reset(now: Timestamp): void {
    this.#start = now;
    this.#o = 0;
    this.#f = 0;
    this.#pieces = [];
  }

  /**
   * A correction of the clock at `now`: the cooked clock moved back by
   * `offset` seconds and now runs slower by `freq` (s/s). Absorbed into the
   * served time (ignored with `leaponly`, but the update time moves).
   */
  update(now: Timestamp, offset: number, freq: number): void {
    if (!this.#active) return;
    const { o, f } = this.#at(now);
    if (this.options.leapOnly) this.#plan(now, o, f);
    else this.#plan(now, o + offset, f + freq);
  }

  /** A clock parameter change (from {@link Clock.onParameterChange}). */
  onClockChange(change: ParameterChange): void {
    if (!this.#active) return;
    // the update time is kept in cooked time: it moves with the clock's offset changes
    this.#start += BigInt(Math.round(change.doffset * 1e9));
    if (change.isStep) this.reset(change.time);
    else this.update(change.time, -change.doffset, -change.dfreq);
  }

  /** A leap second applied to the clock at `now` (+1 inserted: the served time keeps going). */
  leap(now: Timestamp, leap: number): void {
    if (!this.#active) return;
    const { o, f } = this.#at(now);
    this.#plan(now, o + leap, f);
  }

  /** A copy of the state (see {@link SmoothingPlan}). */
  plan(): SmoothingPlan {
    return {
      active: this.#active,
      start: this.#start,
      o: this.#o,
      f: this.#f,
      pieces: this.#pieces.map((p) => ({ ...p })),
    };
  }

  /** Takes a state copied with {@link plan} (the copy then serves the same offsets). */
  restore(plan: SmoothingPlan): void {
    this.#active = plan.active;
    this.#start = plan.start;
    this.#o = plan.o;
    this.#f = plan.f;
    this.#pieces = plan.pieces.map((p) => ({ ...p }));
  }

  /** Offset to add to the cooked time served at `now`, seconds (0 when inactive). */
  offsetAt(now: Timestamp): number {
    if (!this.#active) return 0;
    return this.#at(now).o;
  }

  /** Whether the served time differs from the clock at `now` (chronyd then serves refid 127.127.1.255). */
  inEffect(now: Timestamp): boolean {
    if (!this.#active) return false;
    const s = this.#at(now);
    return s.o !== 0 || s.f !== 0;
  }

  /** The `chronyc smoothing` figures at `now` (all zero while inactive). */
  report(now: Timestamp): SmoothingState {
    const leapOnly = this.options.leapOnly;
    if (!this.#active) {
      return {
        active: false,
        leapOnly,
        offset: 0,
        freqPpm: 0,
        wanderPpm: 0,
        lastUpdateAgo: 0,
        remainingTime: 0,
      };
    }
    const s = this.#at(now);
    return {
      active: true,
      leapOnly,
      offset: s.o,
      freqPpm: s.f * 1e6,
      wanderPpm: s.w * 1e6,
      lastUpdateAgo: Math.max(0, secondsBetween(this.#start, now)),
      remainingTime: s.remaining,
    };
  }

  #plan(now: Timestamp, o: number, f: number): void {
    this.#start = now;
    this.#o = o;
    this.#f = f;
    this.#pieces = planPieces(
      o,
      f,
      this.options.maxWanderPpm * 1e-6,
      this.options.maxFreqPpm * 1e-6,
    );
  }

  /** Offset, frequency, wander and remaining time at `now`. */
  #at(now: Timestamp): { o: number; f: number; w: number; remaining: number } {
    let t = Math.max(0, secondsBetween(this.#start, now));
    let o = this.#o, f = this.#f;
    const pieces = this.#pieces;
    for (let i = 0; i < pieces.length; i++) {
      const p = pieces[i]!;
      if (t < p.duration) {
        let remaining = p.duration - t;
        for (let j = i + 1; j < pieces.length; j++) remaining += pieces[j]!.duration;
        return {
          o: o + f * t + (p.wander * t * t) / 2,
          f: f + p.wander * t,
          w: p.wander,
          remaining,
        };
      }
      o += f * p.duration + (p.wander * p.duration * p.duration) / 2;
      f += p.wander * p.duration;
      t -= p.duration;
    }
    // The plan is over: exactly zero (rounding of the pieces aside).
    return pieces.length > 0 ? { o: 0, f: 0, w: 0, remaining: 0 } : { o, f, w: 0, remaining: 0 };
  }
}
