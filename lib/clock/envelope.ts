/**
 * One-way floor estimate of a source's offset (horae's own, after the
 * minimum-delay line fits of the measurement literature: Paxson 1998, Moon,
 * Skelly and Towsley 1999). An NTP exchange measures, besides the offset `o`
 * (local minus source) and the round-trip delay `d`, two one-way quantities:
 * `o - d/2` and `o + d/2`. With queueing that only ever adds delay, the
 * first lies at or below the line `o_true(t) - up` (up: the fixed delay on
 * the way to the source) and reaches it whenever the request met no queue;
 * the second lies at or above `o_true(t) + down` and reaches it whenever the
 * reply met none. Each line is found as the edge of the convex hull of its
 * points that lies over their mean time (the line that stays on one side of
 * all points with the smallest summed distance to them, a linear program
 * whose optimum is that hull edge); the midpoint of the two lines is
 * `o_true(t) + (down - up) / 2`, the same fixed error from the path's
 * asymmetry as every NTP estimate, but each direction's queueing is removed
 * by its own luckiest packets, not only by packets lucky both ways.
 *
 * @example
 * ```ts
 * import { floorFit } from "./envelope.ts";
 * // times (s), offsets (s), round-trip delays (s)
 * const fit = floorFit([-3, -2, -1, 0], [1e-3, 1.2e-3, 0.9e-3, 1e-3], [2e-3, 2.6e-3, 2.2e-3, 2e-3]);
 * fit?.intercept; // offset at time 0, seconds
 * ```
 * @module
 */

/** A line `intercept + slope * t`. */
export interface Line {
  intercept: number;
  slope: number;
}

/** Both floors and their midpoint. */
export interface FloorFit {
  /** Midpoint line's value at t = 0, seconds. */
  intercept: number;
  /** Midpoint line's slope, s/s. */
  slope: number;
  /** The line under `o - d/2` (source side: the request's floor). */
  lower: Line;
  /** The line over `o + d/2` (the reply's floor). */
  upper: Line;
}

/**
 * The line through the edge of the upper convex hull of points `(t, y)`
 * that lies over the points' mean time: the line above all points that is
 * lowest at their mean time. `t` must be in increasing order. Null with
 * fewer than 2 distinct times.
 */
export function upperHullLine(t: readonly number[], y: readonly number[]): Line | null {
  const n = t.length;
  if (n < 2 || y.length !== n) return null;
  const hull: number[] = [];
  for (let i = 0; i < n; i++) {
    while (hull.length >= 2) {
      const a = hull[hull.length - 2]!, b = hull[hull.length - 1]!;
      // drop b when it lies on or below the segment a -> i
      const cross = (t[b]! - t[a]!) * (y[i]! - y[a]!) - (y[b]! - y[a]!) * (t[i]! - t[a]!);
      if (cross >= 0) hull.pop();
      else break;
    }
    if (hull.length === 1 && t[hull[0]!] === t[i]) {
      // equal times: keep the higher point
      if (y[i]! > y[hull[0]!]!) hull[0] = i;
      continue;
    }
    hull.push(i);
  }
  if (hull.length < 2) return null;
  let mean = 0;
  for (const ti of t) mean += ti;
  mean /= n;
  let k = 0;
  while (k < hull.length - 2 && t[hull[k + 1]!]! <= mean) k++;
  const a = hull[k]!, b = hull[k + 1]!;
  const dt = t[b]! - t[a]!;
  if (!(dt > 0)) return null;
  const slope = (y[b]! - y[a]!) / dt;
  return { intercept: y[a]! - slope * t[a]!, slope };
}

/**
 * The two one-way floors of samples at times `t` (increasing) with offsets
 * `offset` (local minus source) and round-trip delays `delay`, and their
 * midpoint; null with fewer than 2 distinct times.
 */
export function floorFit(
  t: readonly number[],
  offset: readonly number[],
  delay: readonly number[],
): FloorFit | null {
  const n = t.length;
  if (n < 2 || offset.length !== n || delay.length !== n) return null;
  const lo = offset.map((o, i) => o - delay[i]! / 2);
  const hiNeg = offset.map((o, i) => -(o + delay[i]! / 2));
  const lower = upperHullLine(t, lo);
  const upperNeg = upperHullLine(t, hiNeg);
  if (lower === null || upperNeg === null) return null;
  const upper = { intercept: -upperNeg.intercept, slope: -upperNeg.slope };
  return {
    intercept: (lower.intercept + upper.intercept) / 2,
    slope: (lower.slope + upper.slope) / 2,
    lower,
    upper,
  };
}
