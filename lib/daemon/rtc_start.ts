/**
 * chronyd(8) `-s`: at start, set the system clock from the RTC, its drift
 * corrected by the `rtcfile` coefficients when they are valid; or to the
 * driftfile's modification time when that is later than both the current
 * time and the RTC's (a machine without a working RTC then starts no earlier
 * than when chronyd last stopped).
 *
 * The RTC is read at its update interrupt (the instant its new second
 * begins, waited for at most {@link RTC_START_WAIT_MS}) through the same
 * driver as `rtcfile` tracking (lib/refclock/rtc.ts); without a device
 * nothing is logged here and only the driftfile's time can apply, as chronyd
 * 4.3 does on this machine without /dev/rtc (observed, with and without an
 * rtcfile: its "Could not open RTC device" lines come from the rtcfile
 * tracking, after this).
 * With `-x` the clock is never changed: when a step is called for, chronyd
 * 4.3 logs "Could not step system clock" (observed with a driftfile dated in
 * the future) and so does horae. The step itself goes through the daemon's
 * Clock (tests inject the device and a clock double).
 *
 * @module
 */
import type { Config } from "../conf/config.ts";
import type { Clock } from "../clock/clock.ts";
import { parseAdjtime, parseRtcFile, type RtcCoefficients } from "../clock/rtc.ts";
import type { DeviceOpener } from "../refclock/device.ts";
import { type LocalTimeToEpoch, RtcDriver } from "../refclock/rtc.ts";
import { toUnixSeconds } from "../time/timestamp.ts";
import type { Logger } from "./log.ts";
import { isOsError } from "../io/os_error.ts";

/** Longest wait for the RTC's next second at start, ms (our choice: a second and a margin). */
export const RTC_START_WAIT_MS = 1500;

/** What the clock should be set to, and from what. */
export interface StartTime {
  /** System clock minus the time it should show, seconds (positive: the clock is ahead). */
  offset: number;
  from: "rtc" | "driftfile";
}

/**
 * Pure decision of `-s`. `now` is the system time and `rtcFast` the RTC
 * minus system time measured now (null without an RTC), `driftMtime` the
 * driftfile's modification time (null without one), all Unix seconds.
 */
export function startTime(input: {
  now: number;
  rtcFast: number | null;
  coefficients: RtcCoefficients | null;
  driftMtime: number | null;
}): StartTime | null {
  const { now, rtcFast, coefficients: c, driftMtime } = input;
  // the RTC's time minus the true time (the rtcfile's fit at this RTC time), and
  // the true time minus now by the RTC (kept as differences: no rounding of epochs)
  let rtcAhead: number | null = null;
  if (rtcFast !== null) {
    const fast = c?.valid ? c.fast + (now + rtcFast - c.refTime) * c.gainPpm * 1e-6 : 0;
    rtcAhead = rtcFast - fast;
  }
  if (
    driftMtime !== null && driftMtime > now && (rtcAhead === null || driftMtime - now > rtcAhead)
  ) {
    return { offset: now - driftMtime, from: "driftfile" };
  }
  if (rtcAhead === null) return null;
  return { offset: -rtcAhead, from: "rtc" };
}

/** What {@link setClockAtStart} needs. */
export interface ClockAtStartDeps {
  open: DeviceOpener;
  clock: Pick<Clock, "now" | "step">;
  /** The daemon controls the clock (not `-x`). */
  canStep: boolean;
  log: Logger;
  localToEpoch?: LocalTimeToEpoch;
  waitMs?: number;
}

/** Carries out `-s`; returns what was decided (null: nothing to set). */
export async function setClockAtStart(
  config: Config,
  deps: ClockAtStartDeps,
): Promise<StartTime | null> {
  const rtcFast = await readRtc(config, deps);
  let coefficients: RtcCoefficients | null = null;
  if (config.rtcFile !== undefined) {
    try {
      coefficients = parseRtcFile(Deno.readTextFileSync(config.rtcFile));
    } catch (e) {
      if (!isOsError(e)) throw e; // no rtcfile yet: the RTC is taken as it is
    }
  }
  let driftMtime: number | null = null;
  const driftPath = config.driftFile?.path;
  if (driftPath) {
    try {
      const m = Deno.statSync(driftPath).mtime;
      if (m !== null) driftMtime = m.getTime() / 1000;
    } catch (e) {
      if (!isOsError(e)) throw e;
    }
  }
  const now = toUnixSeconds(deps.clock.now());
  const decided = startTime({ now: now, rtcFast, coefficients, driftMtime });
  if (decided === null) return null;
  if (!deps.canStep) {
    deps.log.warn("Could not step system clock");
    return decided;
  }
  deps.clock.step(decided.offset);
  deps.log.info(
    `System clock set from the ${decided.from === "rtc" ? "RTC" : "driftfile time"}, ` +
      `step ${(-decided.offset).toFixed(6)} seconds`,
  );
  return decided;
}

/** RTC minus system time now, from the RTC's next update interrupt; null without one. */
async function readRtc(config: Config, deps: ClockAtStartDeps): Promise<number | null> {
  let utc = config.rtcOnUtc;
  if (config.hwClockFile !== undefined) {
    try {
      utc = parseAdjtime(Deno.readTextFileSync(config.hwClockFile)) ?? utc;
    } catch (e) {
      if (!isOsError(e)) throw e;
    }
  }
  let driver: RtcDriver;
  try {
    driver = RtcDriver.open(
      deps.open(config.rtcDevice),
      deps.localToEpoch ? { utc, localToEpoch: deps.localToEpoch } : { utc },
    );
  } catch (e) {
    deps.log.debug(`RTC not read at start : ${(e as Error).message}`);
    return null;
  }
  try {
    const end = Date.now() + (deps.waitMs ?? RTC_START_WAIT_MS);
    for (let left = end - Date.now(); left > 0; left = end - Date.now()) {
      if (!await driver.device.waitReadable(left)) continue;
      const s = driver.onReadable(deps.clock.now());
      if (s === null) continue;
      // the sample's offset is system minus RTC at the RTC's new second;
      // both clocks have run on together since
      return -s.offset;
    }
    deps.log.debug("RTC not read at start : no update interrupt");
    return null;
  } finally {
    await driver.fini();
  }
}
