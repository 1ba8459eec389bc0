/**
 * Starts the configured reference clocks: adds each `refclock` line to the
 * engine (lib/refclock `RefclockSource` behind it), opens its driver (SHM,
 * SOCK; PHC, PPS and RTC are not supported yet and are skipped with a
 * message), polls polling drivers every 2^dpoll seconds and passes every
 * raw sample, converted from system time to the cooked local clock, to
 * `Engine.onRefclockSample`. The engine's own timer produces the filtered
 * sample every 2^poll seconds.
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
import type { RefclockConfig } from "../conf/config.ts";
import type { Engine, EngineAction } from "../daemon/engine.ts";
import type { RawDriverSample, RefclockDriver } from "../refclock/driver.ts";
import { defaultRefclockName } from "../refclock/source.ts";
import { realNow } from "./realtime.ts";
import { ShmDriver } from "./refclock_shm.ts";
import { SockDriver } from "./refclock_sock.ts";

/** What `startRefclocks` needs. */
export interface RefclockStartOptions {
  engine: Engine;
  refclocks: readonly RefclockConfig[];
  /** The daemon's clock (cooked time). */
  clock: Pick<Clock, "now">;
  /** Carries out engine actions (the daemon's ClientIo.run). */
  run: (actions: readonly EngineAction[]) => void;
  log: { info(m: string): void; warn(m: string): void; error(m: string): void };
  /** Default refclock precision (the system clock's), seconds. */
  precision: number;
}

/** The running drivers. */
export interface RunningRefclocks {
  /** Engine refclock id -> its driver. */
  readonly drivers: ReadonlyMap<number, RefclockDriver>;
  /** Stops polling and releases every driver. */
  close(): Promise<void>;
}

/** See the module doc. Driver failures are logged; the others still start. */
export function startRefclocks(o: RefclockStartOptions): RunningRefclocks {
  const drivers = new Map<number, RefclockDriver>();
  const timers: ReturnType<typeof setInterval>[] = [];
  o.refclocks.forEach((rc, index) => {
    if (rc.driver !== "SHM" && rc.driver !== "SOCK") {
      o.log.error(`refclock ${rc.driver} ${rc.parameter} is not supported yet`);
      return;
    }
    const name = rc.refid ?? defaultRefclockName(rc.driver, index);
    const { id, actions } = o.engine.addRefclock({
      options: {
        name,
        poll: rc.poll,
        filter: rc.filter,
        offset: rc.offset,
        delay: rc.delay,
        precision: rc.precision ?? o.precision,
        stratum: rc.stratum,
        ...(rc.maxdispersion !== undefined ? { maxDispersion: rc.maxdispersion } : {}),
        pps: rc.pps,
        rate: rc.rate,
        ...(rc.lock !== undefined ? { lock: rc.lock } : {}),
        maxLockAge: rc.maxlockage,
      },
      select: {
        noselect: rc.noselect,
        prefer: rc.prefer,
        trust: rc.trust,
        require: rc.require,
      },
      ...(rc.minsamples !== undefined ? { minSamples: rc.minsamples } : {}),
      ...(rc.maxsamples !== undefined ? { maxSamples: rc.maxsamples } : {}),
    });
    const feed = (s: RawDriverSample) => {
      const cooked = s.systemTime + (o.clock.now() - realNow());
      o.engine.onRefclockSample(id, {
        time: cooked,
        offset: s.offset,
        leap: s.leap,
        pulse: s.pulse,
      });
    };
    try {
      if (rc.driver === "SHM") {
        const unit = Number(rc.parameter);
        const d = ShmDriver.open(
          unit,
          rc.driverOptions.perm !== undefined ? { perm: rc.driverOptions.perm } : {},
        );
        drivers.set(id, d);
        const ms = Math.max(1, Math.round(2 ** rc.dpoll * 1000));
        timers.push(setInterval(() => d.poll().forEach(feed), ms));
      } else {
        drivers.set(id, SockDriver.open(rc.parameter, feed));
      }
    } catch (e) {
      o.log.error((e as Error).message);
    }
    o.run(actions);
  });
  return {
    drivers,
    async close() {
      for (const t of timers) clearInterval(t);
      timers.length = 0;
      await Promise.all([...drivers.values()].map((d) => d.fini()));
      drivers.clear();
    },
  };
}
