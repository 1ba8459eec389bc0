/**
 * A character device of a hardware clock (PHC `/dev/ptpN`, PPS `/dev/ppsN`,
 * RTC `/dev/rtcN`) as the refclock drivers see it: ioctl(2), non-blocking
 * read(2) and a wait for readability. `ffi/devices.ts` opens real devices;
 * tests inject back-ends that answer with recorded kernel data, so the
 * drivers' decoding and maths run without the hardware.
 *
 * @example
 * ```ts
 * import type { ClockDevice } from "./device.ts";
 * function readRtc(dev: ClockDevice): Uint8Array {
 *   const buf = new Uint8Array(36);
 *   dev.ioctl(0x80247009, buf); // RTC_RD_TIME
 *   dev.close();
 *   return buf;
 * }
 * ```
 * @module
 */

/** A system call on a device failed. */
export class DeviceError extends Error {
  /** errno of the failure. */
  readonly errno: number;
  /** The call (`ioctl PTP_SYS_OFFSET`, `open`...). */
  readonly op: string;
  constructor(op: string, errno: number, detail = "") {
    super(`${op} failed (errno ${errno})${detail ? `: ${detail}` : ""}`);
    this.name = "DeviceError";
    this.op = op;
    this.errno = errno;
  }
}

/** An open device. Every call throws DeviceError on failure. */
export interface ClockDevice {
  /** The path it was opened from. */
  readonly path: string;
  /**
   * ioctl(2): `arg` is the buffer the request points at (read and written
   * in place by the kernel), or null for requests without an argument.
   */
  ioctl(request: number, arg: Uint8Array | null): number;
  /** Non-blocking read(2): bytes read, 0 when nothing is waiting. */
  read(buf: Uint8Array): number;
  /** Resolves true once the device is readable, false after `timeoutMs`. */
  waitReadable(timeoutMs: number): Promise<boolean>;
  /** close(2); further calls fail. */
  close(): void;
}

/** Opens a device read-only (the drivers never write time to a device). */
export type DeviceOpener = (path: string) => ClockDevice;

/** errno values the drivers tell apart (asm-generic/errno*.h). */
export const DEVICE_ERRNO = { ENOENT: 2, EINVAL: 22, ENOTTY: 25, EOPNOTSUPP: 95 } as const;
