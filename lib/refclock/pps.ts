/**
 * The PPS refclock driver (chrony.conf(5) `refclock PPS /dev/ppsN`): the
 * kernel's RFC 2783 PPS API through the device's ioctls.
 *
 * Opening: PPS_GETCAP must offer capture of the wanted edge (assert, the
 * rising edge; `:clear` the falling one); PPS_GETPARAMS, and when the
 * edge is not captured yet PPS_SETPARAMS with it added (API version 1,
 * timespec format). Each driver poll (`dpoll`): PPS_FETCH with a zero
 * timeout (no waiting); a sequence number of the edge that moved since
 * the last fetch is a new pulse, whose kernel time stamp (system time)
 * becomes a pulse sample: only its distance from the whole second counts,
 * the refclock source completes it from the `lock` refclock or the
 * synchronised system clock (`source.ts`).
 *
 * @example
 * ```ts
 * import { decodePpsFetch } from "./pps.ts";
 * const info = decodePpsFetch(new Uint8Array(64));
 * info.assertSequence; // 0
 * ```
 * @module
 */
import { PPS, PPS_FDATA, PPS_KINFO, PPS_KPARAMS, PPS_KTIME } from "../../ffi/layout.ts";
import type { Timestamp } from "../time/timestamp.ts";
import { type ClockDevice, DeviceError } from "./device.ts";
import { type RawDriverSample, type RefclockDriver, RefclockError } from "./driver.ts";
import { pulseSample } from "./phc.ts";

/** A decoded `struct pps_kinfo` (from PPS_FETCH). */
export interface PpsInfo {
  assertSequence: number;
  clearSequence: number;
  assert: Timestamp;
  clear: Timestamp;
  mode: number;
}

function readKtime(v: DataView, at: number): Timestamp {
  return v.getBigInt64(at + PPS_KTIME.sec, true) * 1_000_000_000n +
    BigInt(v.getInt32(at + PPS_KTIME.nsec, true));
}

/** Decodes the `info` of a filled `struct pps_fdata`. */
export function decodePpsFetch(buf: Uint8Array): PpsInfo {
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const at = PPS_FDATA.info;
  return {
    assertSequence: v.getUint32(at + PPS_KINFO.assertSequence, true),
    clearSequence: v.getUint32(at + PPS_KINFO.clearSequence, true),
    assert: readKtime(v, at + PPS_KINFO.assertTu),
    clear: readKtime(v, at + PPS_KINFO.clearTu),
    mode: v.getInt32(at + PPS_KINFO.currentMode, true),
  };
}

/** The PPS driver's `:options`. */
export interface PpsOptions {
  /** Use clear (falling edge) events instead of assert. */
  clear?: boolean;
}

/** See the module doc. */
export class PpsDriver implements RefclockDriver {
  readonly name = "PPS";
  readonly #dev: ClockDevice;
  readonly #clear: boolean;
  #lastSequence: number | null = null;
  /** Failed fetches since start. */
  errors = 0;

  private constructor(dev: ClockDevice, clear: boolean) {
    this.#dev = dev;
    this.#clear = clear;
  }

  /** Checks the capabilities and enables capture of the edge. Throws RefclockError, closing `dev`. */
  static open(dev: ClockDevice, options: PpsOptions = {}): PpsDriver {
    const edge = options.clear ? PPS.CAPTURECLEAR : PPS.CAPTUREASSERT;
    const fail = (why: string): never => {
      dev.close();
      throw new RefclockError(`PPS ${dev.path}`, why);
    };
    try {
      const cap = new Uint8Array(8);
      dev.ioctl(PPS.GETCAP, cap);
      const caps = new DataView(cap.buffer).getInt32(0, true);
      if ((caps & edge) === 0) {
        fail(`PPS device does not capture ${options.clear ? "clear" : "assert"} events`);
      }
      const params = new Uint8Array(PPS_KPARAMS.size);
      dev.ioctl(PPS.GETPARAMS, params);
      const v = new DataView(params.buffer);
      const mode = v.getInt32(PPS_KPARAMS.mode, true);
      if ((mode & edge) === 0) {
        v.setInt32(PPS_KPARAMS.apiVersion, PPS.API_VERS_1, true);
        v.setInt32(PPS_KPARAMS.mode, mode | edge | PPS.TSFMT_TSPEC, true);
        dev.ioctl(PPS.SETPARAMS, params);
      }
    } catch (e) {
      if (e instanceof RefclockError) throw e;
      fail((e as Error).message);
    }
    const d = new PpsDriver(dev, options.clear ?? false);
    return d;
  }

  /** The driver poll: the pulse captured since the last poll, if any. */
  poll(): RawDriverSample[] {
    const buf = new Uint8Array(PPS_FDATA.size); // timeout {0, 0}, flags 0: return at once
    try {
      this.#dev.ioctl(PPS.FETCH, buf);
    } catch (e) {
      if (!(e instanceof DeviceError)) throw e;
      this.errors++; // counted; no pulse this poll
      return [];
    }
    const info = decodePpsFetch(buf);
    const seq = this.#clear ? info.clearSequence : info.assertSequence;
    const t = this.#clear ? info.clear : info.assert;
    const previous = this.#lastSequence;
    this.#lastSequence = seq;
    if (seq === previous || seq === 0 || t === 0n) return [];
    return [pulseSample(t)];
  }

  fini(): Promise<void> {
    this.#dev.close();
    return Promise.resolve();
  }
}
