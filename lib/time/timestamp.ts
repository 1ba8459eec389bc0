/**
 * Absolute time for all of horae: a `Timestamp` is a bigint count of
 * nanoseconds since the Unix epoch (1970-01-01T00:00:00Z, leap seconds not
 * counted). Absolute times are never float seconds (a double of seconds since
 * 1970 keeps only ~0.2 µs); differences (offsets, delays, dispersions) are
 * float seconds. NTP's 32.32 fixed point is converted here and only here.
 *
 * @example
 * ```ts
 * import { addSeconds, diffSeconds, fromSecNsec } from "./timestamp.ts";
 * const t = fromSecNsec(1_700_000_000, 250_000_000);
 * diffSeconds(addSeconds(t, 0.5), t); // 0.5
 * ```
 * @module
 */

/** Nanoseconds since the Unix epoch. */
export type Timestamp = bigint;

/** Nanoseconds in one second. */
export const NS_PER_SEC = 1_000_000_000n;

/** Seconds from the NTP prime epoch (1900-01-01) to the Unix epoch. RFC 5905 §6. */
export const NTP_UNIX_OFFSET = 2_208_988_800n;

/** 2^32 seconds: the length of one NTP era. RFC 5905 §6. */
const ERA_SECONDS = 1n << 32n;

/** Builds a timestamp from whole seconds and nanoseconds since the Unix epoch. */
export function fromSecNsec(sec: number | bigint, nsec: number | bigint): Timestamp {
  return BigInt(sec) * NS_PER_SEC + BigInt(nsec);
}

/** Splits a timestamp into whole seconds (floor) and nanoseconds 0..999999999. */
export function toSecNsec(t: Timestamp): { sec: bigint; nsec: number } {
  let sec = t / NS_PER_SEC;
  let nsec = t - sec * NS_PER_SEC;
  if (nsec < 0n) {
    sec -= 1n;
    nsec += NS_PER_SEC;
  }
  return { sec, nsec: Number(nsec) };
}

/** `a - b` in float seconds. Exact to the nanosecond for differences below ~100 days. */
export function diffSeconds(a: Timestamp, b: Timestamp): number {
  return Number(a - b) / 1e9;
}

/** `t + seconds`, rounded to the nearest nanosecond. */
export function addSeconds(t: Timestamp, seconds: number): Timestamp {
  return t + BigInt(Math.round(seconds * 1e9));
}

/** Float seconds since the Unix epoch: only for display and logs, never for arithmetic. */
export function toUnixSeconds(t: Timestamp): number {
  return Number(t) / 1e9;
}

/** Timestamp from float seconds since the Unix epoch (for display-side inputs only). */
export function fromUnixSeconds(s: number): Timestamp {
  return BigInt(Math.round(s * 1e9));
}

/** Fraction of a second (0..999999999 ns) to NTP's 32-bit binary fraction, rounded. */
function nsToFrac(ns: bigint): number {
  const frac = (ns * ERA_SECONDS + NS_PER_SEC / 2n) / NS_PER_SEC;
  return frac >= ERA_SECONDS ? 0xffffffff : Number(frac);
}

/**
 * Timestamp to the two 32-bit words of an NTP timestamp (seconds since 1900
 * modulo 2^32, binary fraction). RFC 5905 §6.
 */
export function toNtp64(t: Timestamp): { hi: number; lo: number } {
  const { sec, nsec } = toSecNsec(t);
  const ntpSec = (sec + NTP_UNIX_OFFSET) % ERA_SECONDS;
  return {
    hi: Number(ntpSec < 0n ? ntpSec + ERA_SECONDS : ntpSec),
    lo: nsToFrac(BigInt(nsec)),
  };
}

/**
 * NTP timestamp words to a Timestamp, choosing the era that puts the result
 * nearest to `pivot` (RFC 5905 §6: the era is not on the wire; any time within
 * 68 years of the pivot is recovered exactly). The all-zero timestamp means
 * "unknown" on the wire; callers check for it before converting.
 */
export function fromNtp64(hi: number, lo: number, pivot: Timestamp): Timestamp {
  const pivotNtpSec = toSecNsec(pivot).sec + NTP_UNIX_OFFSET;
  const era = pivotNtpSec >> 32n;
  let sec = era * ERA_SECONDS + BigInt(hi >>> 0);
  const half = ERA_SECONDS / 2n;
  if (sec - pivotNtpSec > half) sec -= ERA_SECONDS;
  else if (pivotNtpSec - sec > half) sec += ERA_SECONDS;
  const nsec = (BigInt(lo >>> 0) * NS_PER_SEC + ERA_SECONDS / 2n) >> 32n;
  return (sec - NTP_UNIX_OFFSET) * NS_PER_SEC + nsec;
}

/** Writes `t` as an NTP timestamp (8 bytes, big-endian) at `offset`. */
export function writeNtp64(view: DataView, offset: number, t: Timestamp): void {
  const { hi, lo } = toNtp64(t);
  view.setUint32(offset, hi);
  view.setUint32(offset + 4, lo);
}

/** Reads an NTP timestamp at `offset`; `null` for the all-zero "unknown" value. */
export function readNtp64(view: DataView, offset: number, pivot: Timestamp): Timestamp | null {
  const hi = view.getUint32(offset), lo = view.getUint32(offset + 4);
  if (hi === 0 && lo === 0) return null;
  return fromNtp64(hi, lo, pivot);
}

/** ISO-8601 text of a timestamp with nanoseconds, UTC: for logs and tests. */
export function formatIso(t: Timestamp): string {
  const { sec, nsec } = toSecNsec(t);
  const base = new Date(Number(sec) * 1000).toISOString().slice(0, 19);
  return `${base}.${String(nsec).padStart(9, "0")}Z`;
}
