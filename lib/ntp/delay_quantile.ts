/**
 * A long-term estimate of a quantile of a source's round-trip delays, for
 * chrony.conf(5) `maxdelayquant p` ("If a measurement has a round-trip delay
 * that is greater than a long-term estimate of the p-quantile, it will be
 * rejected"; "it can take many measurements for the estimated quantile to
 * reach the expected value").
 *
 * Our estimator (horae's own): the empirical p-quantile (the smallest delay
 * with at least a fraction p of the kept ones at or below it) of the last
 * {@linkcode QUANTILE_WINDOW} delays measured, rejected ones included (they
 * are part of the distribution). The test passes every delay until
 * {@linkcode QUANTILE_MIN_SAMPLES} have been seen.
 *
 * @example
 * ```ts
 * import { DelayQuantile } from "./delay_quantile.ts";
 * const q = new DelayQuantile(0.5);
 * for (const d of [210e-6, 205e-6, 230e-6, 201e-6]) q.add(d);
 * q.estimate; // 2.05e-4
 * ```
 * @module
 */

/** Delays kept for the estimate (our choice: minutes at a 1 s poll, a day at 1024 s). */
export const QUANTILE_WINDOW = 128;
/** Delays seen before the estimate is used by the test (our choice). */
export const QUANTILE_MIN_SAMPLES = 4;

/** Long-term p-quantile of round-trip delays. */
export class DelayQuantile {
  /** The quantile, 0 < p < 1. */
  readonly p: number;
  #delays: number[] = [];
  #estimate: number | null = null;

  /** @param p quantile, 0 < p < 1 (chrony.conf: 0.05 to 0.95) */
  constructor(p: number) {
    if (!(p > 0 && p < 1)) throw new RangeError(`quantile ${p} is not between 0 and 1`);
    this.p = p;
  }

  /** Delays kept. */
  get count(): number {
    return this.#delays.length;
  }

  /** The estimate, seconds, or null before {@linkcode QUANTILE_MIN_SAMPLES} delays. */
  get estimate(): number | null {
    return this.#delays.length >= QUANTILE_MIN_SAMPLES ? this.#estimate : null;
  }

  /** Whether `delay` passes the test: at or below the estimate (always, before there is one). */
  accepts(delay: number): boolean {
    const q = this.estimate;
    return q === null || delay <= q;
  }

  /** Adds one measured delay, seconds. */
  add(delay: number): void {
    if (!Number.isFinite(delay)) return;
    this.#delays.push(delay);
    if (this.#delays.length > QUANTILE_WINDOW) this.#delays.shift();
    const sorted = [...this.#delays].sort((a, b) => a - b);
    const k = Math.max(1, Math.ceil(this.p * sorted.length));
    this.#estimate = sorted[k - 1]!;
  }
}
