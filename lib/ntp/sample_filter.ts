/**
 * The `filter N` option of `server`/`pool`/`peer` (chrony.conf(5)): a median
 * filter that turns the samples of N polls into one sample.
 *
 * Our rule: samples are collected until N are held. Then they are sorted by
 * round-trip delay and the longest 40 % are dropped (at least one kept), since
 * a long delay means one direction was queued and the offset is skewed. The
 * kept samples are sorted by offset and the median one (mean of the two
 * middle ones for an even count) gives the offset; time and dispersion are
 * their means, delay the smallest kept delay, and the dispersion is raised to
 * the spread (standard deviation) of the kept offsets when that is larger.
 * The filter then starts empty again.
 *
 * @example
 * ```ts
 * import { SampleFilter } from "./sample_filter.ts";
 * const f = new SampleFilter(3);
 * const s = { time: 0n, offset: 0, peerDelay: 1e-3, peerDispersion: 1e-6,
 *   rootDelay: 0, rootDispersion: 0, stratum: 1, leap: 0 as const };
 * f.add(s); f.add(s); // null, null
 * f.add(s)?.offset; // 0
 * ```
 * @module
 */
import type { Sample } from "../clock/sample.ts";

/** Share of the collected samples (longest delays) dropped. chrony.conf(5): "about 40 percent". */
export const FILTER_DISCARD_RATIO = 0.4;

/** Error for a filter length below 1. */
export class SampleFilterError extends Error {
  readonly code = "length" as const;
  constructor(length: number) {
    super(`filter length ${length} is not a positive integer`);
    this.name = "SampleFilterError";
  }
}

/** Median filter over N samples; see the module doc for the rule. */
export class SampleFilter {
  readonly length: number;
  #samples: Sample[] = [];

  /** `length`: number of samples (polls) combined into one. */
  constructor(length: number) {
    if (!Number.isInteger(length) || length < 1) throw new SampleFilterError(length);
    this.length = length;
  }

  /** Samples held now. */
  get size(): number {
    return this.#samples.length;
  }

  /** Drops all held samples (after a clock step or a reset of the source). */
  clear(): void {
    this.#samples = [];
  }

  /** Adds a sample; returns the filtered sample when N are held, else `null`. */
  add(sample: Sample): Sample | null {
    this.#samples.push(sample);
    if (this.#samples.length < this.length) return null;
    const all = this.#samples;
    this.#samples = [];
    return combine(all);
  }
}

function combine(all: Sample[]): Sample {
  const byDelay = [...all].sort((a, b) => a.peerDelay - b.peerDelay);
  const keep = Math.max(1, all.length - Math.floor(all.length * FILTER_DISCARD_RATIO));
  const kept = byDelay.slice(0, keep).sort((a, b) => a.offset - b.offset);
  const n = kept.length;
  const mid = n >> 1;
  const offset = n % 2 === 1 ? kept[mid]!.offset : (kept[mid - 1]!.offset + kept[mid]!.offset) / 2;
  const base = kept.reduce((a, b) => (b.time < a.time ? b : a)).time;
  let dt = 0n, disp = 0, mean = 0;
  for (const s of kept) {
    dt += s.time - base;
    disp += s.peerDispersion;
    mean += s.offset;
  }
  mean /= n;
  let varSum = 0;
  for (const s of kept) varSum += (s.offset - mean) ** 2;
  const sd = n > 1 ? Math.sqrt(varSum / (n - 1)) : 0;
  const newest = all.reduce((a, b) => (b.time > a.time ? b : a));
  return {
    time: base + dt / BigInt(n),
    offset,
    peerDelay: byDelay[0]!.peerDelay,
    peerDispersion: Math.max(disp / n, sd),
    rootDelay: newest.rootDelay,
    rootDispersion: newest.rootDispersion,
    stratum: newest.stratum,
    leap: newest.leap,
  };
}
