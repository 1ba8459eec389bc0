/**
 * Poll intervals as log2 seconds (a poll of 6 is 64 s, -7 is 1/128 s), with
 * the limits chrony.conf(5) gives for `minpoll`/`maxpoll`.
 *
 * @example
 * ```ts
 * import { clampPoll, pollSeconds } from "./poll_interval.ts";
 * pollSeconds(clampPoll(3, { minpoll: 6, maxpoll: 10 })); // 64
 * ```
 * @module
 */

/** Lowest poll chrony accepts, log2 s. chrony.conf(5): minpoll "the minimum is -7". */
export const POLL_MIN = -7;
/** Highest poll chrony accepts, log2 s. chrony.conf(5): maxpoll "the maximum is 24". */
export const POLL_MAX = 24;
/** Default minpoll, log2 s. chrony.conf(5). */
export const DEFAULT_MINPOLL = 6;
/** Default maxpoll, log2 s. chrony.conf(5). */
export const DEFAULT_MAXPOLL = 10;

/** Poll interval, log2 seconds (an integer in POLL_MIN..POLL_MAX). */
export type PollInterval = number;

/** Limits of a source's poll, log2 seconds. */
export interface PollLimits {
  /** Lower bound, log2 seconds. */
  minpoll: PollInterval;
  /** Upper bound, log2 seconds (if below minpoll, minpoll wins). */
  maxpoll: PollInterval;
}

/** Rounds `poll` and clamps it into POLL_MIN..POLL_MAX and then into minpoll..maxpoll. */
export function clampPoll(poll: number, limits: PollLimits): PollInterval {
  const lo = Math.max(POLL_MIN, Math.min(POLL_MAX, Math.round(limits.minpoll)));
  const hi = Math.max(lo, Math.min(POLL_MAX, Math.round(limits.maxpoll)));
  const p = Math.round(poll);
  return p < lo ? lo : p > hi ? hi : p;
}

/** Interval in seconds of a poll given in log2 seconds (fractional logs allowed). */
export function pollSeconds(poll: number): number {
  return 2 ** poll;
}
