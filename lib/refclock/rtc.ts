/**
 * The RTC refclock driver (chrony 4.7+, chrony.conf(5) `refclock RTC
 * /dev/rtcN[:utc]`): the real-time clock as a (coarse) time source.
 *
 * The RTC counts whole seconds; its update interrupt (RTC_UIE_ON) fires
 * when it starts a new second, which makes the device readable. At each
 * interrupt the IO edge takes the system time, the driver reads the
 * interrupt word (RTC_UF set: an update) and the RTC's time (RTC_RD_TIME,
 * a `struct tm`, local time unless `:utc`); the sample is system time minus
 * RTC time at that instant. The RTC is only read: nothing here sets it.
 *
 * @example
 * ```ts
 * import { rtcTimeToEpoch } from "./rtc.ts";
 * rtcTimeToEpoch({ sec: 0, min: 0, hour: 0, mday: 1, mon: 0, year: 126 }, true); // 1767225600
 * ```
 * @module
 */
import { RTC, RTC_TIME } from "../../ffi/layout.ts";
import type { Timestamp } from "../time/timestamp.ts";
import type { RtcTime } from "../clock/rtc.ts";
import { type ClockDevice, DeviceError } from "./device.ts";
import { type RawDriverSample, type RefclockDriver, RefclockError } from "./driver.ts";

/** The fields of `struct rtc_time` the driver uses: lib/clock/rtc.ts defines them. */
export type { RtcTime };

/** Decodes a filled `struct rtc_time`. */
export function decodeRtcTime(buf: Uint8Array): RtcTime {
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const g = (at: number) => v.getInt32(at, true);
  return {
    sec: g(RTC_TIME.sec),
    min: g(RTC_TIME.min),
    hour: g(RTC_TIME.hour),
    mday: g(RTC_TIME.mday),
    mon: g(RTC_TIME.mon),
    year: g(RTC_TIME.year),
  };
}

/** Converts broken-down local time to Unix seconds (mktime); injected for tests. */
export type LocalTimeToEpoch = (t: RtcTime) => number;

/** Whether the fields are a valid date and time (an RTC after power loss may hold garbage). */
export function validRtcTime(t: RtcTime): boolean {
  return t.sec >= 0 && t.sec <= 60 && t.min >= 0 && t.min <= 59 && t.hour >= 0 &&
    t.hour <= 23 && t.mday >= 1 && t.mday <= 31 && t.mon >= 0 && t.mon <= 11 && t.year >= 70;
}

/**
 * Unix seconds of an RTC time: UTC (`utc`), else local time through
 * `local`. Null for an invalid time.
 */
export function rtcTimeToEpoch(t: RtcTime, utc: boolean, local?: LocalTimeToEpoch): number | null {
  if (!validRtcTime(t)) return null;
  if (!utc) return local ? local(t) : null;
  const days = daysFromCivil(t.year + 1900, t.mon + 1, t.mday);
  return days * 86400 + t.hour * 3600 + t.min * 60 + t.sec;
}

/** Days since 1970-01-01 of a proleptic Gregorian date. */
function daysFromCivil(y: number, m: number, d: number): number {
  y -= m <= 2 ? 1 : 0;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

/** The RTC driver's `:options`. */
export interface RtcOptions {
  /** The RTC keeps UTC (default: local time). */
  utc?: boolean;
  /** mktime for a local-time RTC. */
  localToEpoch?: LocalTimeToEpoch;
}

/** See the module doc. */
export class RtcDriver implements RefclockDriver {
  readonly name = "RTC";
  readonly #dev: ClockDevice;
  readonly #utc: boolean;
  readonly #local: LocalTimeToEpoch | undefined;
  /** Interrupts without an update or with an unreadable time. */
  ignored = 0;

  private constructor(dev: ClockDevice, options: RtcOptions) {
    this.#dev = dev;
    this.#utc = options.utc ?? false;
    this.#local = options.localToEpoch;
  }

  /** Enables the update interrupt. Throws RefclockError, closing `dev`. */
  static open(dev: ClockDevice, options: RtcOptions = {}): RtcDriver {
    try {
      dev.ioctl(RTC.UIE_ON, null);
    } catch (e) {
      dev.close();
      throw new RefclockError(
        `RTC ${dev.path}`,
        `could not enable update interrupt: ${(e as Error).message}`,
      );
    }
    return new RtcDriver(dev, options);
  }

  /** The device to wait on (the IO edge waits, then calls {@link onReadable}). */
  get device(): ClockDevice {
    return this.#dev;
  }

  /**
   * The device became readable at system time `now`: the sample of an
   * update interrupt (the RTC's new second began at `now`), or null.
   */
  onReadable(now: Timestamp): RawDriverSample | null {
    const word = new Uint8Array(8);
    let n: number;
    try {
      n = this.#dev.read(word);
    } catch (e) {
      if (!(e instanceof DeviceError)) throw e;
      this.ignored++; // a failed read: this interrupt gives no sample
      return null;
    }
    if (n < 4 || (word[0]! & RTC.UF) === 0) {
      if (n > 0) this.ignored++;
      return null;
    }
    const buf = new Uint8Array(RTC_TIME.size);
    try {
      this.#dev.ioctl(RTC.RD_TIME, buf);
    } catch (e) {
      if (!(e instanceof DeviceError)) throw e;
      this.ignored++; // the time could not be read: no sample this second
      return null;
    }
    const epoch = rtcTimeToEpoch(decodeRtcTime(buf), this.#utc, this.#local);
    if (epoch === null) {
      this.ignored++;
      return null;
    }
    const offset = Number(now - BigInt(epoch) * 1_000_000_000n) / 1e9;
    return { systemTime: now, offset, leap: 0, pulse: false };
  }

  fini(): Promise<void> {
    try {
      this.#dev.ioctl(RTC.UIE_OFF, null);
    } catch (e) {
      if (!(e instanceof DeviceError)) throw e; // closing disables it too
    }
    this.#dev.close();
    return Promise.resolve();
  }
}
