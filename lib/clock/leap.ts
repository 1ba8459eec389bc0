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
