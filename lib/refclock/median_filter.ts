/**
 * The refclock median filter (chrony.conf(5) `filter`): raw driver samples
 * collected between two polls; at each poll the ~40 % furthest from the
 * median are dropped and the rest averaged into one sample.
 *
 * Our rule, written from the man page's description:
 * - the filter keeps the newest `length` samples (older ones fall out);
 * - a poll needs at least `min(4, length)` samples (for lengths below 4 the
 *   filter must be full), else it yields nothing;
 * - of the n samples, `n - floor(0.4 n)` closest to the median offset are
 *   kept (ties: the newer first); the output time and offset are their means;
 * - the output dispersion is the mean of the kept samples' dispersions plus
 *   the standard deviation (n - 1) of the kept offsets (0 for one sample);
 * - the filter is emptied after each poll.
 *
 * @example
 * ```ts
 * import { MedianFilter } from "./median_filter.ts";
 * const f = new MedianFilter(64);
 * for (let i = 0; i < 4; i++) f.add({ time: BigInt(i) * 1_000_000_000n, offset: 1e-3, dispersion: 1e-6 });
 * f.output(); // { time: 2_000_000_000n, offset: 0.001, dispersion: 1e-6, samples: 3 } (newest 3)
 * ```
 * @module
 */
import type { ClockChange } from "../clock/sourcestats.ts";
import { addSeconds, diffSeconds, type Timestamp } from "../time/timestamp.ts";

/** One raw sample in the filter. */
export interface FilterEntry {
  /** Local (cooked) time the offset holds at. */
  time: Timestamp;
  /** Local clock minus reference, seconds. */
  offset: number;
  /** Error bound of this sample (the refclock's precision), seconds. */
  dispersion: number;
}

/** The filter's output for one poll. */
export interface FilterOutput extends FilterEntry {
  /** Number of samples averaged. */
  samples: number;
}

/** Fraction of samples dropped at each poll (chrony.conf(5): "about 40 percent"). */
export const FILTER_DROP_FRACTION = 0.4;

/** Samples a filter of 4 or more needs between polls (chrony.conf(5) `filter`). */
export const FILTER_MIN_SAMPLES = 4;

/** See the module doc. */
export class MedianFilter {
  readonly length: number;
  #entries: FilterEntry[] = [];

  /** @param length maximum number of samples kept (`filter`, ≥ 1) */
  constructor(length: number) {
    this.length = Math.max(1, Math.floor(length));
  }

  /** Samples collected since the last poll. */
  get size(): number {
    return this.#entries.length;
  }

  /** Adds one sample; the oldest falls out when the filter is full. */
  add(e: FilterEntry): void {
    this.#entries.push(e);
    if (this.#entries.length > this.length) this.#entries.shift();
  }

  /** Forgets every sample. */
  clear(): void {
    this.#entries = [];
  }

  /** Moves stored samples after a clock step or slew (as `SourceStats.correctForClockChange`). */
  correctForClockChange(change: ClockChange): void {
    this.#entries = this.#entries.map((e) => {
      const delta = change.doffset + change.dfreq * diffSeconds(e.time, change.time);
      return { ...e, time: addSeconds(e.time, delta), offset: e.offset + delta };
    });
  }

  /** The filtered sample of this poll, or null with too few samples; empties the filter. */
  output(): FilterOutput | null {
    const all = this.#entries;
    this.#entries = [];
    const n = all.length;
    if (n === 0 || n < Math.min(FILTER_MIN_SAMPLES, this.length)) return null;
    const sorted = all.map((e) => e.offset).sort((a, b) => a - b);
    const mid = Math.floor(n / 2);
    const median = n % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
    const keep = n - Math.floor(FILTER_DROP_FRACTION * n);
    const ranked = all
      .map((e, i) => ({ e, i, d: Math.abs(e.offset - median) }))
      .sort((a, b) => a.d - b.d || b.i - a.i)
      .slice(0, keep)
      .sort((a, b) => a.i - b.i)
      .map((r) => r.e);
    const t0 = ranked[0]!.time;
    let dt = 0, off = 0, disp = 0;
    for (const e of ranked) {
      dt += diffSeconds(e.time, t0);
      off += e.offset;
      disp += e.dispersion;
    }
    const mean = off / keep;
    let ss = 0;
    for (const e of ranked) ss += (e.offset - mean) ** 2;
    const sd = keep > 1 ? Math.sqrt(ss / (keep - 1)) : 0;
    return {
      time: addSeconds(t0, dt / keep),
      offset: mean,
      dispersion: disp / keep + sd,
      samples: keep,
    };
  }
}
