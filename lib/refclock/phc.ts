/**
 * The PHC refclock driver (chrony.conf(5) `refclock PHC`): a PTP hardware
 * clock read against the system clock, or (`:extpps`) the clock's
 * time stamps of an external pulse.
 *
 * Reading (each driver poll, `dpoll`): the kernel's cross timestamp
 * PTP_SYS_OFFSET_PRECISE (device and system time of one instant, from
 * hardware that supports it; `:nocrossts` skips it), else
 * PTP_SYS_OFFSET_EXTENDED (n triples system-PHC-system), else the plain
 * PTP_SYS_OFFSET (interleaved system, PHC, ..., system). From a sandwich
 * the narrowest reading is taken (shortest system interval around the
 * PHC reading, our reading of "filtering based on the reading delay"):
 * its system time is the middle of the interval, its offset system minus
 * PHC. A method the device refuses (EOPNOTSUPP, EINVAL, ENOTTY) is not
 * tried again.
 *
 * `:extpps`: the pin `pin` (unless -1) is set to the external time stamp
 * function on channel `channel`, the channel is enabled for rising (or,
 * with `:clear`, falling) edges, and every event read from the device is a
 * pulse: its PHC time converted to system time with the last PHC offset.
 *
 * Sans IO: the device is a {@link ClockDevice} (real: `ffi/devices.ts`).
 *
 * @example
 * ```ts
 * import { narrowestReading } from "./phc.ts";
 * const r = narrowestReading([
 *   { sys1: 1_000_000_000n, phc: 1_000_000_500n, sys2: 1_000_002_000n },
 *   { sys1: 1_000_010_000n, phc: 1_000_010_800n, sys2: 1_000_010_600n },
 * ]);
 * r?.delay; // 6e-7 (the second reading)
 * ```
 * @module
 */
import {
  PTP,
  PTP_CLOCK_TIME,
  PTP_EXTTS_EVENT,
  PTP_EXTTS_REQUEST_LAYOUT,
  PTP_MAX_SAMPLES,
  PTP_PIN_DESC,
  PTP_SYS_OFFSET_EXTENDED_LAYOUT,
  PTP_SYS_OFFSET_LAYOUT,
  PTP_SYS_OFFSET_PRECISE_LAYOUT,
} from "../../ffi/layout.ts";
import type { Timestamp } from "../time/timestamp.ts";
import { type ClockDevice, DEVICE_ERRNO, DeviceError } from "./device.ts";
import { type RawDriverSample, type RefclockDriver, RefclockError } from "./driver.ts";

/** One PHC reading between two system clock readings (ns since the epoch). */
export interface PhcReading {
  sys1: Timestamp;
  phc: Timestamp;
  sys2: Timestamp;
}

/** A PHC measurement: system time, system minus PHC, reading delay. */
export interface PhcMeasurement {
  systemTime: Timestamp;
  /** System time minus PHC time, seconds. */
  offset: number;
  /** The same in nanoseconds, exact (a free-running PHC may be years off). */
  offsetNs: bigint;
  /** Seconds between the system readings around the PHC's (0 for a cross timestamp). */
  delay: number;
}

/** How the PHC is read. */
export type PhcMethod = "precise" | "extended" | "plain";

/** Readings per PTP_SYS_OFFSET(_EXTENDED) call (our choice, below PTP_MAX_SAMPLES). */
export const PHC_READINGS = 10;

function readClockTime(v: DataView, at: number): Timestamp {
  const sec = v.getBigInt64(at + PTP_CLOCK_TIME.sec, true);
  const nsec = v.getUint32(at + PTP_CLOCK_TIME.nsec, true);
  return sec * 1_000_000_000n + BigInt(nsec);
}

/** Writes a `struct ptp_clock_time`. */
export function writeClockTime(v: DataView, at: number, t: Timestamp): void {
  const sec = t / 1_000_000_000n - (t % 1_000_000_000n < 0n ? 1n : 0n);
  v.setBigInt64(at + PTP_CLOCK_TIME.sec, sec, true);
  v.setUint32(at + PTP_CLOCK_TIME.nsec, Number(t - sec * 1_000_000_000n), true);
}

/** Readings of a filled `struct ptp_sys_offset` (n_samples as returned). */
export function decodeSysOffset(buf: Uint8Array): PhcReading[] {
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const n = Math.min(v.getUint32(PTP_SYS_OFFSET_LAYOUT.nSamples, true), PTP_MAX_SAMPLES);
  const ts = (i: number) => readClockTime(v, PTP_SYS_OFFSET_LAYOUT.ts + i * PTP_CLOCK_TIME.size);
  const out: PhcReading[] = [];
  for (let i = 0; i < n; i++) {
    out.push({ sys1: ts(2 * i), phc: ts(2 * i + 1), sys2: ts(2 * i + 2) });
  }
  return out;
}

/** Readings of a filled `struct ptp_sys_offset_extended`. */
export function decodeSysOffsetExtended(buf: Uint8Array): PhcReading[] {
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const n = Math.min(v.getUint32(PTP_SYS_OFFSET_EXTENDED_LAYOUT.nSamples, true), PTP_MAX_SAMPLES);
  const ts = (i: number, j: number) =>
    readClockTime(v, PTP_SYS_OFFSET_EXTENDED_LAYOUT.ts + (i * 3 + j) * PTP_CLOCK_TIME.size);
  const out: PhcReading[] = [];
  for (let i = 0; i < n; i++) out.push({ sys1: ts(i, 0), phc: ts(i, 1), sys2: ts(i, 2) });
  return out;
}

/** The measurement of a filled `struct ptp_sys_offset_precise` (a cross timestamp). */
export function decodeSysOffsetPrecise(buf: Uint8Array): PhcMeasurement {
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const phc = readClockTime(v, PTP_SYS_OFFSET_PRECISE_LAYOUT.device);
  const sys = readClockTime(v, PTP_SYS_OFFSET_PRECISE_LAYOUT.sysRealtime);
  return { systemTime: sys, offset: Number(sys - phc) / 1e9, offsetNs: sys - phc, delay: 0 };
}

/**
 * The narrowest of a sandwich of readings: system time in the middle of
 * its interval, offset system minus PHC. Readings whose system interval
 * runs backwards (a step between them) are ignored; null if none is left.
 */
export function narrowestReading(readings: readonly PhcReading[]): PhcMeasurement | null {
  let best: PhcReading | null = null;
  for (const r of readings) {
    if (r.sys2 < r.sys1) continue;
    if (best === null || r.sys2 - r.sys1 < best.sys2 - best.sys1) best = r;
  }
  if (best === null) return null;
  const mid = best.sys1 + (best.sys2 - best.sys1) / 2n;
  return {
    systemTime: mid,
    offset: Number(mid - best.phc) / 1e9,
    offsetNs: mid - best.phc,
    delay: Number(best.sys2 - best.sys1) / 1e9,
  };
}

/** Events of a read(2) of a PHC (whole `struct ptp_extts_event`s). */
export function decodeExttsEvents(
  buf: Uint8Array,
  length: number,
): { t: Timestamp; index: number }[] {
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const out: { t: Timestamp; index: number }[] = [];
  for (let at = 0; at + PTP_EXTTS_EVENT.size <= length; at += PTP_EXTTS_EVENT.size) {
    out.push({
      t: readClockTime(v, at + PTP_EXTTS_EVENT.t),
      index: v.getUint32(at + PTP_EXTTS_EVENT.index, true),
    });
  }
  return out;
}

/**
 * A pulse at system time `t` as a raw sample: only where the second is
 * counts, so the offset is `t`'s distance from the nearest whole second
 * (system minus reference), in [-0.5, 0.5).
 */
export function pulseSample(t: Timestamp): RawDriverSample {
  const ns = ((t % 1_000_000_000n) + 1_000_000_000n) % 1_000_000_000n;
  const signed = ns >= 500_000_000n ? ns - 1_000_000_000n : ns;
  return { systemTime: t, offset: Number(signed) / 1e9, leap: 0, pulse: true };
}

/** The PHC driver's `:options`. */
export interface PhcOptions {
  nocrossts?: boolean;
  extpps?: boolean;
  /** Pin for the external time stamps; -1: fixed function, not configured. Default 0. */
  pin?: number;
  /** External time stamp channel. Default 0. */
  channel?: number;
  /** Time stamp falling edges (extpps). */
  clear?: boolean;
}

const REFUSED: ReadonlySet<number> = new Set([
  DEVICE_ERRNO.EOPNOTSUPP,
  DEVICE_ERRNO.EINVAL,
  DEVICE_ERRNO.ENOTTY,
]);

/** See the module doc. */
export class PhcDriver implements RefclockDriver {
  readonly name = "PHC";
  readonly #dev: ClockDevice;
  readonly #options: PhcOptions;
  #method: PhcMethod;
  #last: PhcMeasurement | null = null;
  /** Failed readings (device errors) since start. */
  errors = 0;
  /** External time stamps of another channel, ignored. */
  foreignEvents = 0;

  private constructor(dev: ClockDevice, options: PhcOptions) {
    this.#dev = dev;
    this.#options = options;
    this.#method = options.nocrossts ? "extended" : "precise";
  }

  /** Sets the device up (extpps: pin and channel). Throws RefclockError, closing `dev`. */
  static open(dev: ClockDevice, options: PhcOptions = {}): PhcDriver {
    const d = new PhcDriver(dev, options);
    if (options.extpps) {
      try {
        d.#enableExtts(true);
      } catch (e) {
        dev.close();
        throw new RefclockError(`PHC ${dev.path}`, (e as Error).message);
      }
    }
    return d;
  }

  /** The method the last successful reading used. */
  get method(): PhcMethod {
    return this.#method;
  }

  /** The last PHC measurement (system minus PHC). */
  get lastMeasurement(): PhcMeasurement | null {
    return this.#last;
  }

  #enableExtts(on: boolean): void {
    const channel = this.#options.channel ?? 0;
    const pin = this.#options.pin ?? 0;
    if (on && pin >= 0) {
      const desc = new Uint8Array(PTP_PIN_DESC.size);
      const v = new DataView(desc.buffer);
      v.setUint32(PTP_PIN_DESC.index, pin, true);
      v.setUint32(PTP_PIN_DESC.func, PTP.PF_EXTTS, true);
      v.setUint32(PTP_PIN_DESC.chan, channel, true);
      this.#dev.ioctl(PTP.PIN_SETFUNC, desc);
    }
    const req = new Uint8Array(PTP_EXTTS_REQUEST_LAYOUT.size);
    const v = new DataView(req.buffer);
    v.setUint32(PTP_EXTTS_REQUEST_LAYOUT.index, channel, true);
    const edge = this.#options.clear ? PTP.FALLING_EDGE : PTP.RISING_EDGE;
    v.setUint32(PTP_EXTTS_REQUEST_LAYOUT.flags, on ? PTP.ENABLE_FEATURE | edge : 0, true);
    this.#dev.ioctl(PTP.EXTTS_REQUEST, req);
  }

  /** One PHC measurement by the best method the device accepts; null on failure. */
  measure(): PhcMeasurement | null {
    for (;;) {
      try {
        const m = this.#read(this.#method);
        if (m !== null) this.#last = m;
        return m;
      } catch (e) {
        const refused = e instanceof DeviceError && REFUSED.has(e.errno);
        if (refused && this.#method === "precise") this.#method = "extended";
        else if (refused && this.#method === "extended") this.#method = "plain";
        else {
          this.errors++;
          return null;
        }
      }
    }
  }

  #read(method: PhcMethod): PhcMeasurement | null {
    if (method === "precise") {
      const buf = new Uint8Array(PTP_SYS_OFFSET_PRECISE_LAYOUT.size);
      this.#dev.ioctl(PTP.SYS_OFFSET_PRECISE, buf);
      return decodeSysOffsetPrecise(buf);
    }
    const extended = method === "extended";
    const layout = extended ? PTP_SYS_OFFSET_EXTENDED_LAYOUT : PTP_SYS_OFFSET_LAYOUT;
    const buf = new Uint8Array(layout.size);
    new DataView(buf.buffer).setUint32(layout.nSamples, PHC_READINGS, true);
    this.#dev.ioctl(extended ? PTP.SYS_OFFSET_EXTENDED : PTP.SYS_OFFSET, buf);
    return narrowestReading(extended ? decodeSysOffsetExtended(buf) : decodeSysOffset(buf));
  }

  /**
   * The driver poll: a PHC measurement as a sample, or with `:extpps` the
   * pulses time stamped since the last poll (converted with this poll's
   * measurement).
   */
  poll(): RawDriverSample[] {
    const m = this.measure();
    if (!this.#options.extpps) {
      return m === null
        ? []
        : [{ systemTime: m.systemTime, offset: m.offset, leap: 0, pulse: false }];
    }
    const out: RawDriverSample[] = [];
    const buf = new Uint8Array(PTP_EXTTS_EVENT.size * 16);
    const channel = this.#options.channel ?? 0;
    for (let round = 0; round < 64; round++) {
      let n: number;
      try {
        n = this.#dev.read(buf);
      } catch (e) {
        if (!(e instanceof DeviceError)) throw e;
        this.errors++; // counted; the events read so far are kept
        break;
      }
      if (n <= 0) break;
      for (const ev of decodeExttsEvents(buf, n)) {
        if (ev.index !== channel) {
          this.foreignEvents++;
          continue;
        }
        if (m === null) continue; // no conversion to system time this poll
        const sys = ev.t + m.offsetNs;
        out.push(pulseSample(sys));
      }
    }
    return out;
  }

  fini(): Promise<void> {
    if (this.#options.extpps) {
      try {
        this.#enableExtts(false);
      } catch (e) {
        if (!(e instanceof DeviceError)) throw e; // the device may be gone; closing is what matters
      }
    }
    this.#dev.close();
    return Promise.resolve();
  }
}
