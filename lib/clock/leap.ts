/**
 * Leap seconds from a TZif file of the `right/` zones (chrony.conf(5)
 * `leapsectz right/UTC`): parses the leap-second records of TZif versions
 * 1-4 (RFC 8536) and answers whether a leap second is inserted or deleted
 * at the end of the UTC day containing a given time. The caller reads the
 * file (for example /usr/share/zoneinfo/right/UTC) and passes the bytes.
 *
 * @example
 * ```ts
 * import { leapAtEndOfDay, parseTzifLeaps } from "./leap.ts";
 * const leaps = parseTzifLeaps(Deno.readFileSync("/usr/share/zoneinfo/right/UTC"));
 * leapAtEndOfDay(leaps, 1483228800n * 1_000_000_000n - 1n); // 1: 2016-12-31 had 23:59:60
 * ```
 * @module
 */
import { NS_PER_SEC, type Timestamp } from "../time/timestamp.ts";
import type { LeapAction } from "./clock.ts";

/** One leap second: the Unix time of the midnight it precedes, and its direction. */
export interface LeapRecord {
  /** Unix seconds of the 00:00:00 UTC that ends the day with the leap second. */
  midnight: number;
  /** +1 inserted, -1 deleted. */
  leap: 1 | -1;
  /** TAI - UTC - 10 s after it (the TZif "correction"), seconds. */
  correction: number;
}

/** TZif bytes that cannot be read. */
export class TzifError extends Error {
  override readonly name = "TzifError";
  constructor(message: string) {
    super(`TZif: ${message}`);
  }
}

/** RFC 8536 §3.1: header is 44 bytes. */
const HEADER = 44;

/** Parses the leap-second records of a TZif file (the 64-bit block when present). */
export function parseTzifLeaps(bytes: Uint8Array): LeapRecord[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const header = (at: number) => {
    if (at + HEADER > bytes.length) throw new TzifError("truncated header");
    if (view.getUint32(at) !== 0x545a6966) throw new TzifError("bad magic"); // "TZif"
    const count = (i: number) => view.getUint32(at + 20 + 4 * i);
    return {
      version: bytes[at + 4] ?? 0,
      isutcnt: count(0),
      isstdcnt: count(1),
      leapcnt: count(2),
      timecnt: count(3),
      typecnt: count(4),
      charcnt: count(5),
    };
  };
  let h = header(0);
  let at = HEADER;
  let timeSize = 4;
  const blockLength = (t: number) =>
    h.timecnt * t + h.timecnt + h.typecnt * 6 + h.charcnt + h.leapcnt * (t + 4) + h.isstdcnt +
    h.isutcnt;
  if (h.version !== 0) {
    at += blockLength(4);
    h = header(at);
    at += HEADER;
    timeSize = 8;
  }
  at += h.timecnt * timeSize + h.timecnt + h.typecnt * 6 + h.charcnt;
  if (at + h.leapcnt * (timeSize + 4) > bytes.length) throw new TzifError("truncated data");
  const records: LeapRecord[] = [];
  let previous = 0;
  for (let i = 0; i < h.leapcnt; i++) {
    const occurrence = timeSize === 8 ? Number(view.getBigInt64(at)) : view.getInt32(at);
    const correction = view.getInt32(at + timeSize);
    at += timeSize + 4;
    // The occurrence counts the earlier leap seconds; an unchanged correction marks expiry.
    if (correction !== previous) {
      records.push({
        midnight: occurrence - previous + (correction > previous ? 0 : 1),
        leap: correction > previous ? 1 : -1,
        correction,
      });
    }
    previous = correction;
  }
  return records;
}

/** Leap second at the end of the UTC day containing `t`: +1 insert, -1 delete, 0 none. */
export function leapAtEndOfDay(leaps: readonly LeapRecord[], t: Timestamp): LeapAction {
  const day = 86_400n;
  const sec = t / NS_PER_SEC - (t % NS_PER_SEC < 0n ? 1n : 0n);
  const midnight = Number(sec - (((sec % day) + day) % day) + day);
  for (const r of leaps) if (r.midnight === midnight) return r.leap;
  return 0;
}

/** TAI - UTC at `t` (seconds) from the records: 10 s plus the corrections in force. */
export function taiOffset(leaps: readonly LeapRecord[], t: Timestamp): number {
  const sec = Number(t / NS_PER_SEC);
  let correction = 0;
  for (const r of leaps) if (r.midnight <= sec) correction = r.correction;
  return 10 + correction;
}

/** Seconds from the NTP era (1900) to the Unix epoch. */
const NTP_UNIX_OFFSET = 2_208_988_800;

/**
 * Parses a NIST/IERS leap-seconds.list (chrony.conf(5) 4.6+ `leapseclist`):
 * lines of `NTP-seconds TAI-UTC` (comments after `#`; `#@` gives the
 * expiry, `#$` the update time), the first entry the 10 s of 1972. Each
 * later change of TAI-UTC is a leap second at the midnight of its time.
 * Throws TzifError (the same error family as the TZif reader) when a line
 * is malformed, the times do not increase, or a step is not ±1 s.
 */
export function parseLeapSecondsList(text: string): {
  leaps: LeapRecord[];
  /** Unix seconds when the list expires (`#@`), or null. */
  expires: number | null;
} {
  const leaps: LeapRecord[] = [];
  let expires: number | null = null;
  let previous: { ntp: number; offset: number } | null = null;
  for (const [n, raw] of text.split("\n").entries()) {
    if (raw.startsWith("#@")) {
      const e = Number(raw.slice(2).trim());
      if (Number.isInteger(e)) expires = e - NTP_UNIX_OFFSET;
      continue;
    }
    const line = raw.replace(/#.*/, "").trim();
    if (line === "") continue;
    const f = line.split(/\s+/);
    const ntp = Number(f[0]), offset = Number(f[1]);
    if (f.length !== 2 || !Number.isInteger(ntp) || !Number.isInteger(offset)) {
      throw new TzifError(`leap-seconds.list line ${n + 1}: "${raw}"`);
    }
    if (previous !== null) {
      const step = offset - previous.offset;
      if (ntp <= previous.ntp || (step !== 1 && step !== -1)) {
        throw new TzifError(`leap-seconds.list line ${n + 1}: not a leap second after the last`);
      }
      leaps.push({ midnight: ntp - NTP_UNIX_OFFSET, leap: step, correction: offset - 10 });
    }
    previous = { ntp, offset };
  }
  return { leaps, expires };
}
