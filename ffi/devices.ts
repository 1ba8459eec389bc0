/**
 * Real hardware-clock devices for the refclock drivers
 * (`lib/refclock/device.ts`): open(2) read-only and non-blocking, ioctl(2),
 * read(2) and poll(2) through libc. The request numbers and structures
 * are in `ffi/layout.ts`, checked against the C headers by
 * `tests/ffi/layout_test.ts`. Nothing here sets a clock: the PHC and RTC
 * are opened O_RDONLY (the kernel refuses clock_settime and RTC_SET_TIME
 * on such a descriptor), and only reading ioctls plus the PHC/PPS
 * capture set-up are issued by the drivers.
 *
 * @example
 * ```ts
 * import { openClockDevice } from "./devices.ts";
 * try {
 *   const dev = openClockDevice("/dev/rtc0");
 *   dev.close();
 * } catch (e) {
 *   console.log((e as Error).message); // no such device here
 * }
 * ```
 * @module
 */
import { type ClockDevice, DeviceError } from "../lib/refclock/device.ts";
import { HWTSTAMP_CONFIG, IFREQ, L, O_FLAGS, POLLFD, SIOCSHWTSTAMP } from "./layout.ts";
import { close, errno, socket } from "./libc.ts";

const lib = Deno.dlopen("libc.so.6", {
  open: { parameters: ["buffer", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  ioctl: { parameters: ["i32", "u64", "buffer"], result: "i32" },
  poll: { parameters: ["buffer", "u64", "i32"], result: "i32", nonblocking: true },
}).symbols;

const EAGAIN = 11;
const EINTR = 4;

class FfiClockDevice implements ClockDevice {
  readonly path: string;
  #fd: number;

  constructor(path: string, fd: number) {
    this.path = path;
    this.#fd = fd;
  }

  ioctl(request: number, arg: Uint8Array | null): number {
    const r = lib.ioctl(this.#fd, BigInt(request), arg);
    if (r < 0) throw new DeviceError(`ioctl 0x${request.toString(16)}`, errno(), this.path);
    return r;
  }

  read(buf: Uint8Array): number {
    const r = Number(lib.read(this.#fd, buf, BigInt(buf.length)));
    if (r >= 0) return r;
    const e = errno();
    if (e === EAGAIN || e === EINTR) return 0;
    throw new DeviceError("read", e, this.path);
  }

  async waitReadable(timeoutMs: number): Promise<boolean> {
    const fds = new Uint8Array(POLLFD.size);
    const v = new DataView(fds.buffer);
    v.setInt32(POLLFD.fd, this.#fd, true);
    v.setInt16(POLLFD.events, L.POLLIN | L.POLLPRI, true);
    const r = await lib.poll(fds, 1n, Math.max(0, Math.round(timeoutMs)));
    // poll ran on a worker thread: its errno is not ours to read; a failure
    // (EINTR, or the descriptor closed meanwhile) reads as "not readable".
    if (r < 0 || this.#fd < 0) return false;
    return r > 0 && (v.getInt16(POLLFD.revents, true) & (L.POLLIN | L.POLLPRI)) !== 0;
  }

  close(): void {
    if (this.#fd < 0) return;
    lib.close(this.#fd);
    this.#fd = -1;
  }
}

/** Opens `path` O_RDONLY | O_NONBLOCK | O_CLOEXEC. Throws DeviceError. */
export function openClockDevice(path: string): ClockDevice {
  const name = new TextEncoder().encode(path + "\0");
  const fd = lib.open(name, O_FLAGS.RDONLY | O_FLAGS.NONBLOCK | O_FLAGS.CLOEXEC);
  if (fd < 0) throw new DeviceError("open", errno(), path);
  return new FfiClockDevice(path, fd);
}

/**
 * SIOCSHWTSTAMP on interface `name`: hardware time stamping of sent packets
 * (`txType`) and received ones (`rxFilter`); returns the configuration the
 * driver applied (it may widen the filter). Needs CAP_NET_ADMIN. Throws
 * DeviceError.
 */
export function setInterfaceHwTimestamping(
  name: string,
  txType: number,
  rxFilter: number,
): { txType: number; rxFilter: number } {
  const nameBytes = new TextEncoder().encode(name);
  if (nameBytes.length >= IFREQ.namesize) throw new DeviceError("ioctl SIOCSHWTSTAMP", 19, name);
  const cfg = new Uint8Array(HWTSTAMP_CONFIG.size);
  const cv = new DataView(cfg.buffer);
  cv.setInt32(HWTSTAMP_CONFIG.txType, txType, true);
  cv.setInt32(HWTSTAMP_CONFIG.rxFilter, rxFilter, true);
  const ifr = new Uint8Array(IFREQ.size);
  ifr.set(nameBytes, IFREQ.name);
  new DataView(ifr.buffer).setBigUint64(
    IFREQ.data,
    BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(cfg))),
    true,
  );
  const fd = socket(L.AF_INET, L.SOCK_DGRAM | L.SOCK_CLOEXEC, 0);
  try {
    if (lib.ioctl(fd, BigInt(SIOCSHWTSTAMP), ifr) < 0) {
      throw new DeviceError("ioctl SIOCSHWTSTAMP", errno(), name);
    }
  } finally {
    close(fd);
  }
  return {
    txType: cv.getInt32(HWTSTAMP_CONFIG.txType, true),
    rxFilter: cv.getInt32(HWTSTAMP_CONFIG.rxFilter, true),
  };
}
