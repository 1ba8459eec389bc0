/**
 * The refclock driver interface (chrony's split: one module per driver with
 * init / fini / poll). A driver is opened by its IO edge
 * (`lib/io/refclock_shm.ts`, `lib/io/refclock_sock.ts`): that is `init`.
 * It hands raw samples in system time (CLOCK_REALTIME); the edge converts
 * them to the cooked local clock and passes them to the engine
 * (`Engine.onRefclockSample`).
 *
 * @example
 * ```ts
 * import type { RefclockDriver } from "./driver.ts";
 * async function pollOnce(d: RefclockDriver) {
 *   for (const s of d.poll?.() ?? []) console.log(s.systemTime, s.offset);
 *   await d.fini();
 * }
 * ```
 * @module
 */
import type { LeapIndicator } from "../clock/sample.ts";
import type { Timestamp } from "../time/timestamp.ts";

/** One sample as a driver reads it. */
export interface RawDriverSample {
  /** System time (CLOCK_REALTIME) of the measurement. */
  systemTime: Timestamp;
  /** System time minus the reference's time at that moment, seconds. */
  offset: number;
  leap: LeapIndicator;
  /** A pulse (PPS): only the fraction of a second is meaningful. */
  pulse: boolean;
}

/** A running driver. */
export interface RefclockDriver {
  /** Driver name as in chrony.conf (`SHM`, `SOCK`...). */
  readonly name: string;
  /**
   * Reads the device; called every 2^dpoll seconds. Absent for drivers that
   * receive samples as events (SOCK).
   */
  poll?(): RawDriverSample[];
  /** Releases the device (detach, close, unlink). */
  fini(): Promise<void>;
}

/** A driver could not be opened. */
export class RefclockError extends Error {
  /** Driver name and parameter, e.g. `SHM 0`. */
  readonly refclock: string;
  constructor(refclock: string, reason: string) {
    super(`Could not open refclock ${refclock} : ${reason}`);
    this.name = "RefclockError";
    this.refclock = refclock;
  }
}
