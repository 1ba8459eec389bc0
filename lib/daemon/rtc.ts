/**
 * The daemon's side of RTC tracking (`rtcfile`, `rtcdevice`, `rtconutc`,
 * `hwclockfile`, `rtcautotrim`, `log rtc`; lib/clock/rtc.ts has the maths).
 * Opens the device, enables its update interrupt and takes a sample every
 * {@link RTC_MEASURE_INTERVAL} seconds (the RTC's time when its new second
 * began against the system time then); `rtcdata`, `trimrtc` and
 * `writertc` go through the returned handle. Without a device chronyd 4.3
 * logs "Could not open RTC device ... : ..." and "RTC driver could not be
 * initialised", and chronyc then gets 513 RTC driver not running: the same
 * here (the handle is null).
 *
 * Setting the RTC (RTC_SET_TIME, `trimrtc`) is done only when `canSet`
 * (the daemon controls the clock, not `-x`); tests inject the device.
 *
 * @example
 * ```ts ignore
 * const rtc = startRtc(config, { open: openClockDevice, now: () => clock.now(), log, logs, canSet: true });
 * rtc?.report();
 * ```
 * @module
 */
import type { Config } from "../conf/config.ts";
import { RTC } from "../../ffi/layout.ts";
import { DeviceError, type DeviceOpener } from "../refclock/device.ts";
import { STRERROR } from "../io/refclock_drivers.ts";
import { type LocalTimeToEpoch, RtcDriver } from "../refclock/rtc.ts";
import {
  encodeRtcTime,
  type EpochToLocal,
  formatRtcFile,
  parseAdjtime,
  parseRtcFile,
  rtcLogLine,
  RtcTracker,
} from "../clock/rtc.ts";
import type { RtcReport } from "../cmdmon/reports.ts";
import { type Timestamp, toUnixSeconds } from "../time/timestamp.ts";
import type { Logger } from "./log.ts";
import type { LogWriter } from "./log_writer.ts";
import { strerror, writeFileAtomic } from "./files.ts";
import { isOsError } from "../io/os_error.ts";

/** Seconds between samples. Our choice. */
export const RTC_MEASURE_INTERVAL = 64;

/** What {@link startRtc} needs from the daemon. */
export interface RtcDeps {
  open: DeviceOpener;
  now: () => Timestamp;
  log: Logger;
  logs: LogWriter | null;
  /** The RTC may be set (the daemon controls the clock). */
  canSet: boolean;
  /** The system clock is synchronised (for `rtcautotrim`). */
  synced?: () => boolean;
  localToEpoch?: LocalTimeToEpoch;
  epochToLocal?: EpochToLocal;
  /** Seconds between samples (tests use less). */
  interval?: number;
}

/** A running RTC tracker. */
export interface RunningRtc {
  report(): RtcReport;
  /** `trimrtc`: false when the RTC may not be set. */
  trim(): boolean;
  /** `writertc`: false when there is no rtcfile or it could not be written. */
  write(): boolean;
  /** Stops sampling and saves the rtcfile (as chronyd does on exit). */
  stop(): Promise<void>;
}

/** Starts RTC tracking when `rtcfile` is set; null without it or without a device. */
export function startRtc(config: Config, deps: RtcDeps): RunningRtc | null {
  const file = config.rtcFile;
  if (file === undefined) return null;
  let utc = config.rtcOnUtc;
  if (config.hwClockFile !== undefined) {
    try {
      utc = parseAdjtime(Deno.readTextFileSync(config.hwClockFile)) ?? utc;
    } catch (e) {
      if (!isOsError(e)) throw e; // chronyd keeps rtconutc when the file cannot be read
    }
  }
  let driver: RtcDriver;
  try {
    const dev = deps.open(config.rtcDevice);
    driver = RtcDriver.open(
      dev,
      deps.localToEpoch ? { utc, localToEpoch: deps.localToEpoch } : { utc },
    );
  } catch (e) {
    const why = e instanceof DeviceError ? STRERROR[e.errno] : undefined;
    deps.log.warn(`Could not open RTC device ${config.rtcDevice} : ${why ?? strerror(e)}`);
    deps.log.warn("RTC driver could not be initialised");
    return null;
  }
  let saved = null;
  try {
    saved = parseRtcFile(Deno.readTextFileSync(file));
  } catch (e) {
    if (!isOsError(e)) throw e; // no file yet (or unreadable): tracking starts afresh
  }
  const tracker = new RtcTracker(saved);
  const interval = deps.interval ?? RTC_MEASURE_INTERVAL;
  let last: number | null = null;
  let stopped = false;

  const write = (): boolean => {
    try {
      writeFileAtomic(file, formatRtcFile(tracker.coefficients));
      return true;
    } catch (e) {
      deps.log.warn(`Could not write ${file} : ${strerror(e)}`);
      return false;
    }
  };
  const trim = (): boolean => {
    if (!deps.canSet) return false;
    const target = tracker.trim(toUnixSeconds(deps.now()));
    if (target === null) return true;
    driver.device.ioctl(RTC.SET_TIME, encodeRtcTime(target, utc, deps.epochToLocal));
    last = null;
    write();
    return true;
  };

  const loop = (async () => {
    while (!stopped) {
      const ready = await driver.device.waitReadable(Math.min(2000, interval * 1000 + 1500));
      if (stopped) break;
      if (!ready) continue;
      const now = deps.now();
      const s = driver.onReadable(now);
      if (s === null) continue;
      const t = toUnixSeconds(now);
      if (last !== null && t - last < interval) continue;
      const measured = tracker.addSample(Math.round(t - s.offset), now);
      deps.logs?.write("rtc", rtcLogLine(now, measured, last === null ? 0 : t - last));
      last = t;
      if (config.rtcAutoTrim > 0 && (deps.synced?.() ?? false)) {
        if (tracker.needsTrim(t, config.rtcAutoTrim)) {
          try {
            trim();
          } catch (e) {
            deps.log.warn(`Could not trim RTC : ${strerror(e)}`);
          }
        }
      }
    }
  })();

  return {
    report: () => tracker.report(),
    trim,
    write,
    async stop() {
      stopped = true;
      await loop;
      await driver.fini();
      write();
    },
  };
}
