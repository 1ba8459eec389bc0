/**
 * The SHM refclock driver's IO edge: creates (or attaches to) the System V
 * segment `0x4e545030 + unit` that gpsd writes (chrony.conf(5) `refclock
 * SHM unit[:perm=mode]`, default mode 0600) and reads it at each `poll()`.
 * The protocol itself is `lib/refclock/shm.ts`. `fini()` detaches; the
 * segment stays for the writer (as with ntpd and chronyd).
 *
 * @example
 * ```ts
 * import { ShmDriver } from "./refclock_shm.ts";
 * const d = ShmDriver.open(0, {});
 * const samples = d.poll(); // every 2^dpoll s
 * await d.fini();
 * ```
 * @module
 */
import { IPC, SHM_TIME } from "../../ffi/layout.ts";
import { shmat, shmget, type ShmSegment } from "../../ffi/libc.ts";
import { type RawDriverSample, type RefclockDriver, RefclockError } from "../refclock/driver.ts";
import { readShmSample, SHM_KEY_BASE } from "../refclock/shm.ts";

/** chrony.conf(5): SHM `perm` default 0600. */
export const SHM_DEFAULT_PERM = 0o600;

/** See the module doc. */
export class ShmDriver implements RefclockDriver {
  readonly name = "SHM";
  readonly #segment: ShmSegment;
  /** Reads that found the writer busy, or a bad mode. */
  busy = 0;
  badMode = 0;

  private constructor(segment: ShmSegment) {
    this.#segment = segment;
  }

  /**
   * Opens unit `unit` (key 0x4e545030 + unit); `options.perm` is the
   * octal text of `:perm=`. `options.key` overrides the key (tests).
   * Throws RefclockError.
   */
  static open(unit: number, options: { perm?: string; key?: number }): ShmDriver {
    const perm = options.perm === undefined ? SHM_DEFAULT_PERM : parseInt(options.perm, 8);
    if (!Number.isInteger(perm) || perm < 0 || perm > 0o777) {
      throw new RefclockError(`SHM ${unit}`, `invalid perm "${options.perm}"`);
    }
    const key = options.key ?? SHM_KEY_BASE + unit;
    try {
      const id = shmget(key, SHM_TIME.size, IPC.IPC_CREAT | perm);
      return new ShmDriver(shmat(id, SHM_TIME.size));
    } catch (e) {
      throw new RefclockError(`SHM ${unit}`, (e as Error).message);
    }
  }

  /** Segment id (shmget). */
  get id(): number {
    return this.#segment.id;
  }

  /** Reads the segment: at most one new sample. */
  poll(): RawDriverSample[] {
    const r = readShmSample(this.#segment.view);
    switch (r.kind) {
      case "sample":
        return [r.sample];
      case "busy":
        this.busy++;
        return [];
      case "bad-mode":
        this.badMode++;
        return [];
      case "empty":
        return [];
    }
  }

  fini(): Promise<void> {
    this.#segment.detach();
    return Promise.resolve();
  }
}
