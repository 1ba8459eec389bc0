/**
 * Starts the configured reference clocks: adds each `refclock` line to the
 * engine (lib/refclock `RefclockSource` behind it), opens its driver (SHM,
 * SOCK, PHC, PPS, RTC), polls polling drivers every 2^dpoll seconds (the
 * RTC driver waits for its update interrupt instead) and passes every raw
 * sample, converted from system time to the cooked local clock, to
 * `Engine.onRefclockSample`. The engine's own timer produces the filtered
 * sample every 2^poll seconds.
 *
 * Hardware devices are opened through `openDevice` (default
 * `ffi/devices.ts`, read-only); tests inject back-ends with recorded kernel
 * data. A PHC named by interface (4.7+) is the interface's `/dev/ptpN`
 * (ETHTOOL_GET_TS_INFO's PHC index). With the `tai` option the TAI-UTC
 * offset of `leapsectz` at the sample's time is added to its offset (the
 * reference keeps TAI); without a leap-second table such a refclock is not
 * started.
 *
 * @example
 * ```ts
 * import { startRefclocks } from "./refclock_drivers.ts";
 * async function runRefclocks(opts: Parameters<typeof startRefclocks>[0]) {
 *   const rc = startRefclocks(opts);
 *   await rc.close();
 * }
 * ```
 * @module
 */
import type { Clock } from "../clock/clock.ts";
import { parseTzifLeaps, taiOffset, TzifError } from "../clock/leap.ts";
import type { RefclockConfig } from "../conf/config.ts";
import type { Engine, EngineAction } from "../engine/engine.ts";
import { type ClockDevice, DeviceError, type DeviceOpener } from "../refclock/device.ts";
import { type RawDriverSample, type RefclockDriver, RefclockError } from "../refclock/driver.ts";
import { PhcDriver } from "../refclock/phc.ts";
import { PpsDriver } from "../refclock/pps.ts";
import { type LocalTimeToEpoch, RtcDriver } from "../refclock/rtc.ts";
import { defaultRefclockName } from "../refclock/source.ts";
import type { Timestamp } from "../time/timestamp.ts";
import { openClockDevice } from "../../ffi/devices.ts";
import { interfaceTimestamping } from "../../ffi/libc.ts";
import { realNow } from "./realtime.ts";
import type { Sample } from "../clock/sample.ts";
import { DEFAULT_MAX_UNREACH } from "../clock/select.ts";
import { type RefclockLogEntry, refclocksLine } from "../engine/logfiles.ts";
import { ShmDriver } from "./refclock_shm.ts";
import { SockDriver } from "./refclock_sock.ts";
import { isOsError } from "./os_error.ts";

/** What `startRefclocks` needs. */
export interface RefclockStartOptions {
  engine: Engine;
  refclocks: readonly RefclockConfig[];
  /** The daemon's clock (cooked time). */
  clock: Pick<Clock, "now" | "remainingCorrection" | "systemClockOffset">;
  /** Carries out engine actions (the daemon's ClientIo.run). */
  run: (actions: readonly EngineAction[]) => void;
  log: { info(m: string): void; warn(m: string): void; error(m: string): void };
  /** Default refclock precision (the system clock's), seconds. */
  precision: number;
  /** Opens a hardware clock device (default: ffi/devices.ts). */
  openDevice?: DeviceOpener;
  /** PHC index of a network interface (default: ETHTOOL_GET_TS_INFO); -1 if none. */
  phcIndexOf?: (iface: string) => number;
  /** System time (CLOCK_REALTIME); default the real one. */
  systemNow?: () => Timestamp;
  /** mktime for a local-time RTC; default the process's time zone. */
  localToEpoch?: LocalTimeToEpoch;
  /** `rtcsync` or `rtcfile` is configured: an RTC refclock cannot start (chrony.conf(5)). */
  rtcInUse?: boolean;
  /** Writes a line to refclocks.log (`log refclocks`); absent: not logged. */
  logRefclock?: ((line: string) => void) | undefined;
  /** TAI - UTC at a time (from `leapsectz`), for refclocks with `tai`; absent: no table. */
  taiOffset?: ((t: Timestamp) => number) | undefined;
}

/** Driver `:options` each driver accepts (chrony.conf(5)). */
const DRIVER_OPTIONS: Readonly<Record<string, readonly string[]>> = {
  SHM: ["perm"],
  SOCK: [],
  PHC: ["nocrossts", "extpps", "pin", "channel", "clear"],
  PPS: ["clear"],
  RTC: ["utc"],
};

/** An integer `:option=value` or the default. */
function intOption(rc: RefclockConfig, name: string, dflt: number): number {
  const v = rc.driverOptions[name];
  if (v === undefined) return dflt;
  if (!/^-?\d+$/.test(v)) {
    throw new RefclockError(`${rc.driver} ${rc.parameter}`, `invalid ${name}=${v}`);
  }
  return Number(v);
}

/** mktime of the process's time zone (Date's local-time constructor). */
function localMktime(
  t: { sec: number; min: number; hour: number; mday: number; mon: number; year: number },
): number {
  return Math.floor(new Date(t.year + 1900, t.mon, t.mday, t.hour, t.min, t.sec).getTime() / 1000);
}

function defaultPhcIndex(iface: string): number {
  try {
    return interfaceTimestamping(iface).phcIndex;
  } catch (e) {
    if (!isOsError(e)) throw e;
    return -1; // no such interface or no ethtool answer: no PHC ("Could not open PHC")
  }
}

/** The running drivers. */
export interface RunningRefclocks {
  /** Engine refclock id -> its driver. */
  readonly drivers: ReadonlyMap<number, RefclockDriver>;
  /**
   * chronyd's fatal error when a refclock could not start (a PHC, PPS or RTC
   * device that cannot be opened or set up, an invalid driver option, `tai`
   * without leap seconds); the refclocks after it were not started.
   */
  readonly fatal: string | null;
  /** Stops polling and releases every driver. */
  close(): Promise<void>;
}

/** A refclock could not start (chronyd exits with this message). */
export class RefclockStartError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RefclockStartError";
  }
}

/**
 * See the module doc. A PHC, PPS, RTC or SOCK refclock that cannot start is
 * fatal as with chronyd (`fatal`, the rest not started); SHM failures are
 * logged and the others still start.
 */
export function startRefclocks(o: RefclockStartOptions): RunningRefclocks {
  const drivers = new Map<number, RefclockDriver>();
  const timers: ReturnType<typeof setInterval>[] = [];
  const loops: Promise<void>[] = [];
  let closed = false;
  const open = o.openDevice ?? openClockDevice;
  const systemNow = o.systemNow ?? realNow;
  let fatal: string | null = null;
  for (const [index, rc] of o.refclocks.entries()) {
    const allowed = DRIVER_OPTIONS[rc.driver] ?? [];
    const unknown = Object.keys(rc.driverOptions).find((k) => !allowed.includes(k));
    if (unknown !== undefined) {
      fatal = `Invalid refclock driver option ${unknown}`;
      break;
    }
    if (rc.driver === "RTC" && o.rtcInUse) {
      fatal = "RTC refclock cannot be used together with rtcsync or rtcfile";
      break;
    }
    if (rc.tai && o.taiOffset === undefined) {
      fatal = "refclock tai option requires leapseclist or leapsectz";
      break;
    }
    const name = rc.refid ?? defaultRefclockName(rc.driver, index);
    const log = o.logRefclock ? (e: RefclockLogEntry) => o.logRefclock!(refclocksLine(e)) : null;
    const precision = rc.precision ?? o.precision;
    const { id, actions } = o.engine.addRefclock({
      options: {
        name,
        poll: rc.poll,
        filter: rc.filter,
        offset: rc.offset,
        delay: rc.delay,
        precision,
        stratum: rc.stratum,
        ...(rc.maxdispersion !== undefined ? { maxDispersion: rc.maxdispersion } : {}),
        pps: rc.pps,
        rate: rc.rate,
        ...(rc.lock !== undefined ? { lock: rc.lock } : {}),
        maxLockAge: rc.maxlockage,
        ...(rc.width !== undefined ? { width: rc.width } : {}),
        ...(rc.local ? { local: true } : {}),
        ...(log ? { onFiltered: (f: Sample) => log(filteredEntry(name, f)) } : {}),
      },
      select: {
        noselect: rc.noselect,
        prefer: rc.prefer,
        trust: rc.trust,
        require: rc.require,
        ...(rc.maxunreach !== DEFAULT_MAX_UNREACH ? { maxUnreach: rc.maxunreach } : {}),
      },
      ...(rc.minsamples !== undefined ? { minSamples: rc.minsamples } : {}),
      ...(rc.maxsamples !== undefined ? { maxSamples: rc.maxsamples } : {}),
    });
    const tai = rc.tai ? o.taiOffset : undefined;
    let interval: Timestamp | null = null;
    let dp = 0;
    const feed = (s: RawDriverSample) => {
      // the driver measured the system clock: cooked time and its offset differ from it by
      // the clock's correction (what `tracking` calls System time), read without a clock read
      const correction = -(o.clock.systemClockOffset?.() ?? o.clock.remainingCorrection());
      const cooked = s.systemTime + BigInt(Math.round(correction * 1e9));
      const offset = s.offset + correction;
      const refused = o.engine.onRefclockSample(id, {
        time: cooked,
        offset: tai ? offset + tai(s.systemTime) : offset,
        leap: s.leap,
        pulse: s.pulse,
      });
      if (log === null || refused !== null) return;
      const source = o.engine.refclockProgress(id);
      // DP: the sample's number within the polling interval (as chronyd 4.3 counts SOCK samples)
      const next = source?.nextTimer ?? null;
      if (next !== interval) [interval, dp] = [next, 0];
      log({
        time: cooked,
        refId: name,
        dp: dp++,
        leap: s.leap,
        pulse: s.pulse,
        rawOffset: -s.offset,
        cookedOffset: -(source?.lastOffset ?? s.offset),
        dispersion: precision,
      });
    };
    const ms = Math.max(1, Math.round(2 ** rc.dpoll * 1000));
    const polled = (d: RefclockDriver & { poll(): RawDriverSample[] }) => {
      drivers.set(id, d);
      timers.push(setInterval(() => d.poll().forEach(feed), ms));
    };
    try {
      if (rc.driver === "SHM") {
        const unit = Number(rc.parameter);
        polled(ShmDriver.open(
          unit,
          rc.driverOptions.perm !== undefined ? { perm: rc.driverOptions.perm } : {},
        ));
      } else if (rc.driver === "SOCK") {
        // a socket that cannot be created (its directory missing) is fatal, as in chronyd 4.3
        try {
          drivers.set(id, SockDriver.open(rc.parameter, feed));
        } catch (e) {
          if (!(e instanceof RefclockError)) throw e; // SockDriver.open's only failure
          fatal = `Could not open socket ${rc.parameter}`;
          break;
        }
      } else if (rc.driver === "PHC") {
        let path = rc.parameter;
        if (!path.startsWith("/")) {
          const phc = (o.phcIndexOf ?? defaultPhcIndex)(path);
          path = phc < 0 ? "" : `/dev/ptp${phc}`;
        }
        let dev: ClockDevice;
        try {
          if (path === "") throw new DeviceError("open", 19, /* ENODEV */ "no PHC");
          dev = open(path);
        } catch (e) {
          if (!(e instanceof DeviceError)) throw e;
          o.log.error(`Could not open PHC (of) ${rc.parameter}`);
          fatal = "Could not open PHC";
          break;
        }
        const has = (k: string) => rc.driverOptions[k] !== undefined;
        polled(PhcDriver.open(dev, {
          nocrossts: has("nocrossts"),
          extpps: has("extpps"),
          clear: has("clear"),
          pin: intOption(rc, "pin", 0),
          channel: intOption(rc, "channel", 0),
        }));
      } else if (rc.driver === "PPS") {
        const dev = openOrFatal(open, rc.parameter, `Could not open ${rc.parameter}`);
        if (typeof dev === "string") {
          fatal = dev;
          break;
        }
        polled(PpsDriver.open(dev, {
          clear: rc.driverOptions.clear !== undefined,
        }));
      } else {
        const dev = openOrFatal(open, rc.parameter, `Could not open RTC device ${rc.parameter}`);
        if (typeof dev === "string") {
          fatal = dev;
          break;
        }
        const d = RtcDriver.open(dev, {
          utc: rc.driverOptions.utc !== undefined,
          localToEpoch: o.localToEpoch ?? localMktime,
        });
        drivers.set(id, d);
        loops.push((async () => {
          while (!closed) {
            const ready = await d.device.waitReadable(1500);
            if (closed) break;
            if (!ready) continue;
            const s = d.onReadable(systemNow());
            if (s !== null) feed(s);
          }
        })());
      }
    } catch (e) {
      // a hardware clock that opened but refused its set-up is fatal, as a missing one
      if (rc.driver !== "SHM") {
        fatal = (e as Error).message;
        break;
      }
      o.log.error((e as Error).message);
    }
    o.run(actions);
  }
  return {
    drivers,
    fatal,
    async close() {
      closed = true;
      for (const t of timers) clearInterval(t);
      timers.length = 0;
      await Promise.all(loops);
      await Promise.all([...drivers.values()].map((d) => d.fini()));
      drivers.clear();
    },
  };
}

/** Opens a device, or chronyd's fatal message: `what : strerror`. */
function openOrFatal(open: DeviceOpener, path: string, what: string): ClockDevice | string {
  try {
    return open(path);
  } catch (e) {
    const errno = e instanceof DeviceError ? e.errno : 0;
    return `${what} : ${STRERROR[errno] ?? (e as Error).message}`;
  }
}

/** strerror(3) texts of the errors opening a device gives. */
export const STRERROR: Readonly<Record<number, string>> = {
  1: "Operation not permitted",
  2: "No such file or directory",
  13: "Permission denied",
  16: "Device or resource busy",
  19: "No such device",
  20: "Not a directory",
};

/**
 * TAI - UTC at a time from the `leapsectz` zone (a name under
 * /usr/share/zoneinfo or an absolute path), for refclocks with `tai`;
 * undefined when there is no zone or it holds no leap seconds.
 */
export function leapSecTzTaiOffset(
  zone: string | undefined,
): ((t: Timestamp) => number) | undefined {
  if (!zone) return undefined;
  try {
    const leaps = parseTzifLeaps(
      Deno.readFileSync(zone.startsWith("/") ? zone : `/usr/share/zoneinfo/${zone}`),
    );
    return leaps.length === 0 ? undefined : (t) => taiOffset(leaps, t);
  } catch (e) {
    if (!(e instanceof TzifError || isOsError(e))) throw e;
    return undefined; // no such zone file, or not TZif: no TAI offsets, as in chronyd
  }
}

/** The refclocks.log entry of a filtered sample. */
function filteredEntry(refId: string, f: Sample): RefclockLogEntry {
  return {
    time: f.time,
    refId,
    dp: null,
    leap: f.leap,
    pulse: false,
    rawOffset: 0,
    cookedOffset: -f.offset,
    dispersion: f.peerDispersion,
  };
}
