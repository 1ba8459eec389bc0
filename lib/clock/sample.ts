/**
 * The values that flow between lib/ntp (measurement), source statistics,
 * selection and the reference (discipline). Contracts only: no logic.
 *
 * Sign convention everywhere: `offset` is local clock minus the source's (or
 * true) time; positive means our clock is ahead (fast).
 *
 * @example
 * ```ts
 * import type { Sample } from "./sample.ts";
 * const s: Sample = { time: 0n, offset: 1e-4, peerDelay: 2e-4, peerDispersion: 1e-6,
 *   rootDelay: 0, rootDispersion: 1e-5, stratum: 2, leap: 0 };
 * ```
 * @module
 */
import type { Timestamp } from "../time/timestamp.ts";

/** Leap indicator as on the wire: 0 none, 1 insert, 2 delete, 3 unsynchronised. RFC 5905 §7.3. */
export type LeapIndicator = 0 | 1 | 2 | 3;

/** One measurement of one source, made by lib/ntp (or a refclock). */
export interface Sample {
  /** Local (cooked) time at which `offset` holds: the midpoint of the exchange. */
  time: Timestamp;
  /** Local clock minus source clock, seconds. */
  offset: number;
  /** Round-trip delay of the exchange (δ), seconds, never below the precision. */
  peerDelay: number;
  /** Dispersion of this measurement (precisions, clock-rate error over the exchange), seconds. */
  peerDispersion: number;
  /** Source's root delay plus nothing of ours, seconds (from the packet). */
  rootDelay: number;
  /** Source's root dispersion, seconds (from the packet). */
  rootDispersion: number;
  /** Source's stratum (1..15). */
  stratum: number;
  /** Source's leap indicator. */
  leap: LeapIndicator;
  /**
   * `extfield F323`: seconds by which the source corrected its own clock
   * (its served time moved forward) since its previous sample, from the
   * monotonic receive timestamps; the statistics move stored offsets by
   * minus this before adding the sample. Absent: none known.
   */
  serverCorrection?: number;
}

/**
 * What selection and combining hand to the reference: one estimate of the
 * local clock's error built from the selected sources. Fields follow what
 * `chronyc tracking` later shows.
 */
export interface ReferenceUpdate {
  /** Reference ID of the selected source (IPv4 address as u32, refclock refid, hash of IPv6). */
  refId: number;
  /** Address of the selected source, if it is an NTP source ("192.0.2.1", "::1"). */
  address: string | null;
  /** Our stratum: selected source's stratum + 1. */
  stratum: number;
  /** Leap status voted by the selected sources. */
  leap: LeapIndicator;
  /** Local time at which `offset` and `frequency` hold. */
  refTime: Timestamp;
  /** Local clock minus true time at refTime, seconds. */
  offset: number;
  /** Standard deviation of `offset`, seconds. */
  offsetSd: number;
  /**
   * Frequency error of the local clock relative to the sources, as a ratio
   * (s/s, positive = local clock gains time). 1e-6 = 1 ppm.
   */
  frequency: number;
  /** Standard deviation of `frequency`, s/s. */
  frequencySd: number;
  /** Skew (error bound of frequency), s/s. */
  skew: number;
  /** Root delay to the reference via the selected source, seconds. */
  rootDelay: number;
  /** Root dispersion to the reference via the selected source, seconds. */
  rootDispersion: number;
  /** Number of sources combined. */
  combined: number;
}
