/**
 * Absolute time for all of horae: a `Timestamp` is a bigint count of
 * nanoseconds since the Unix epoch (1970-01-01T00:00:00Z, leap seconds not
 * counted). Absolute times are never float seconds (a double of seconds since
 * 1970 keeps only ~0.2 µs); differences (offsets, delays, dispersions) are
 * float seconds. NTP's 32.32 fixed point is converted here and only here.
 *
 * Raw NTP timestamps (the 64 bits on the wire, kept exact in packets) have
 * their own type, {@link Ntp64}, so that neither can be passed for the other:
 * an `Ntp64` is a bigint branded `true` under a private symbol, and
 * `Timestamp` is a bigint whose same brand may only be absent (`never`). Any
 * plain bigint, literal or arithmetic result is thus still a `Timestamp` (no
 * casts in the ~60 files that compute with them), while an `Ntp64` is refused
 * where a `Timestamp` is expected, and a `Timestamp` (or any unbranded bigint)
 * where an `Ntp64` is expected; {@link ntp64Bits} and {@link NTP64_ZERO} make
 * one from wire bits. Measured before choosing (errors `deno task check`
 * reported): branding only `Ntp64` stops a Timestamp passed as an Ntp64 but
 * not the reverse (a branded bigint is still a bigint), at 32 fixes in 8
 * files; branding `Timestamp` as well (nominal) would have asked for 482 fixes
 * in 94 files, most of them casts of bigint arithmetic; this choice protects
 * both ways for the same 32 fixes as the first. What it does not catch:
 * arithmetic on an `Ntp64` gives a plain bigint, hence a `Timestamp` (only
 * the converters do arithmetic on raw values). tests/time/timestamp_test.ts
 * holds the `@ts-expect-error` lines that `deno check` verifies.
 *
 * @example
 * ```ts
 * import { addSeconds, diffSeconds, fromSecNsec } from "./timestamp.ts";
 * const t = fromSecNsec(1_700_000_000, 250_000_000);
 * diffSeconds(addSeconds(t, 0.5), t); // 0.5
 * ```
 * @module
 */

declare const ntp64Brand: unique symbol;

/** Nanoseconds since the Unix epoch: any bigint but an {@link Ntp64} (see the module notes). */
export type Timestamp = bigint & { readonly [ntp64Brand]?: never };

/**
 * A raw NTP timestamp as on the wire: seconds since 1900 modulo 2^32 in the
 * high 32 bits, binary fraction of a second in the low 32 (RFC 5905 §6). Not
 * a {@link Timestamp}; made by {@link ntp64Bits} or the packet converters.
 */
export type Ntp64 = bigint & { readonly [ntp64Brand]: true };

/** The all-zero NTP timestamp: "unknown" on the wire. */
export const NTP64_ZERO = 0n as Ntp64;

/** Takes 64 bits read from (or made for) the wire as an {@link Ntp64}. */
export function ntp64Bits(bits: bigint): Ntp64 {
  return bits as Ntp64;
}

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
