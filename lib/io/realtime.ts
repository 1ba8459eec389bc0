/**
 * The system's real time and a monotonic clock, read with clock_gettime(2).
 * Only lib/io and lib/daemon call these; the sans-IO core receives times as
 * parameters.
 *
 * @example
 * ```ts
 * import { monotonicNow, realNow } from "./realtime.ts";
 * const t = realNow(); // Timestamp: bigint ns since the Unix epoch
 * const m0 = monotonicNow(); // bigint ns since boot, not slewed by adjtimex
 * ```
 * @module
 */

import { CLOCK, clockGettime, clockGettimeTo } from "../../ffi/libc.ts";
import type { Timestamp } from "../time/timestamp.ts";

/** CLOCK_REALTIME now: ns since the Unix epoch (the clock horae disciplines). */
export function realNow(): Timestamp {
  return clockGettime(CLOCK.REALTIME);
}

/** {@link realNow} without a BigInt: Unix seconds at `out[0]`, nanoseconds at `out[1]`. */
export function realNowTo(out: Float64Array): void {
  clockGettimeTo(CLOCK.REALTIME, out);
}

/**
 * CLOCK_MONOTONIC_RAW now, ns since an unspecified start (boot). Never stepped
 * and not slewed by adjtimex, so intervals measured with it do not depend on
 * our own discipline of the real-time clock.
 */
export function monotonicNow(): bigint {
  return clockGettime(CLOCK.MONOTONIC_RAW);
}

/** CLOCK_BOOTTIME now, ns since boot including time spent suspended. */
export function bootTimeNow(): bigint {
  return clockGettime(CLOCK.BOOTTIME);
}
