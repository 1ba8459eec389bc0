/**
 * The NTP shared-memory protocol (gpsd's `ntpshm`, the SHM refclock) on a
 * segment's bytes, sans IO. Segment key: 0x4e545030 ("NTP0") + unit.
 *
 * The writer (gpsd) sets `valid = 0`, fills the time fields, then sets
 * `valid = 1`; in mode 1 it also increments `count` before and after. The
 * reader takes a sample only when `valid` is set and, in mode 1, `count`
 * did not change while it copied; it then clears `valid`. The
 * nanosecond fields are used when they agree with the microsecond ones
 * (writers that do not know them leave them 0).
 *
 * @example
 * ```ts
 * import { readShmSample, SHM_KEY_BASE, writeShmSample } from "./shm.ts";
 * const view = new DataView(new ArrayBuffer(96));
 * writeShmSample(view, { clock: 10_000_000_000n, receive: 10_000_001_000n, leap: 0, precision: -20 });
 * readShmSample(view); // { kind: "sample", sample: { systemTime: 10_000_001_000n, offset: 1e-6, ... } }
 * SHM_KEY_BASE + 0; // 0x4e545030
 * ```
 * @module
 */
import { SHM_TIME } from "../../ffi/layout.ts";
import type { LeapIndicator } from "../clock/sample.ts";
import { diffSeconds, type Timestamp } from "../time/timestamp.ts";
import type { RawDriverSample } from "./driver.ts";

/** Key of SHM unit 0: "NTP0" (gpsd's ntpshm). */
export const SHM_KEY_BASE = 0x4e545030;

/** What one read of the segment found. */
export type ShmRead =
  | { kind: "sample"; sample: RawDriverSample; precision: number }
  /** `valid` not set: nothing new. */
  | { kind: "empty" }
  /** Mode 1 and the writer was busy (count changed): try at the next poll. */
  | { kind: "busy" }
  /** Neither mode 0 nor 1. */
  | { kind: "bad-mode"; mode: number };

function readTime(v: DataView, secAt: number, usecAt: number, nsecAt: number): Timestamp {
  const sec = v.getBigInt64(secAt, true);
  const usec = v.getInt32(usecAt, true);
  const nsec = v.getUint32(nsecAt, true);
  const frac = nsec < 1_000_000_000 && Math.floor(nsec / 1000) === usec ? nsec : usec * 1000;
  return sec * 1_000_000_000n + BigInt(frac);
}

/** Reads (and consumes) the sample in a `struct shmTime`, if any. */
export function readShmSample(v: DataView): ShmRead {
  const mode = v.getInt32(SHM_TIME.mode, true);
  if (v.getInt32(SHM_TIME.valid, true) === 0) return { kind: "empty" };
  const count = v.getInt32(SHM_TIME.count, true);
  const clock = readTime(
    v,
    SHM_TIME.clockTimeStampSec,
    SHM_TIME.clockTimeStampUSec,
    SHM_TIME.clockTimeStampNSec,
  );
  const receive = readTime(
    v,
    SHM_TIME.receiveTimeStampSec,
    SHM_TIME.receiveTimeStampUSec,
    SHM_TIME.receiveTimeStampNSec,
  );
  const leap = v.getInt32(SHM_TIME.leap, true);
  const precision = v.getInt32(SHM_TIME.precision, true);
  if (mode !== 0 && mode !== 1) {
    v.setInt32(SHM_TIME.valid, 0, true);
    return { kind: "bad-mode", mode };
  }
  if (mode === 1 && v.getInt32(SHM_TIME.count, true) !== count) return { kind: "busy" };
  v.setInt32(SHM_TIME.valid, 0, true);
  return {
    kind: "sample",
    sample: {
      systemTime: receive,
      offset: diffSeconds(receive, clock),
      leap: (leap & 3) as LeapIndicator,
      pulse: false,
    },
    precision,
  };
}

/** A sample to write (what gpsd does), for tests and the simulator. */
export interface ShmWrite {
  /** Reference time of the sample. */
  clock: Timestamp;
  /** System time at which the reference had `clock`. */
  receive: Timestamp;
  leap: LeapIndicator;
  /** log2 seconds. */
  precision: number;
  /** 0 or 1 (default 1, with the count protocol). */
  mode?: 0 | 1;
}

/** Writes a sample into a `struct shmTime` the way gpsd does (count, valid). */
export function writeShmSample(v: DataView, s: ShmWrite): void {
  const mode = s.mode ?? 1;
  v.setInt32(SHM_TIME.mode, mode, true);
  v.setInt32(SHM_TIME.valid, 0, true);
  if (mode === 1) v.setInt32(SHM_TIME.count, v.getInt32(SHM_TIME.count, true) + 1, true);
  const put = (t: Timestamp, secAt: number, usecAt: number, nsecAt: number) => {
    const sec = t / 1_000_000_000n, nsec = Number(t % 1_000_000_000n);
    v.setBigInt64(secAt, sec, true);
    v.setInt32(usecAt, Math.floor(nsec / 1000), true);
    v.setUint32(nsecAt, nsec, true);
  };
  put(
    s.clock,
    SHM_TIME.clockTimeStampSec,
    SHM_TIME.clockTimeStampUSec,
    SHM_TIME.clockTimeStampNSec,
  );
  put(
    s.receive,
    SHM_TIME.receiveTimeStampSec,
    SHM_TIME.receiveTimeStampUSec,
    SHM_TIME.receiveTimeStampNSec,
  );
  v.setInt32(SHM_TIME.leap, s.leap, true);
  v.setInt32(SHM_TIME.precision, s.precision, true);
  v.setInt32(SHM_TIME.nsamples, 0, true);
  if (mode === 1) v.setInt32(SHM_TIME.count, v.getInt32(SHM_TIME.count, true) + 1, true);
  v.setInt32(SHM_TIME.valid, 1, true);
}
