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
import {
  ETHTOOL_CMD,
  ETHTOOL_GLINKSETTINGS,
  ETHTOOL_GSET,
  ETHTOOL_LINK_SETTINGS,
  ETHTOOL_SPEED_UNKNOWN,
  HWTSTAMP_CONFIG,
  IFREQ,
  L,
  O_FLAGS,
  POLLFD,
  SIOCETHTOOL,
  SIOCGHWTSTAMP,
  SIOCSHWTSTAMP,
} from "./layout.ts";
import { close, errno, ifreqWithData, socket } from "./libc.ts";
import { bindLibrary } from "./bind.ts";

const lib = bindLibrary("libc.so.6", {
  open: { parameters: ["buffer", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  ioctl: { parameters: ["i32", "u64", "buffer"], result: "i32" },
  poll: { parameters: ["buffer", "u64", "i32"], result: "i32", nonblocking: true },
});

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
  return hwTstampIoctl(name, SIOCSHWTSTAMP, "SIOCSHWTSTAMP", txType, rxFilter);
}

/** SIOCGHWTSTAMP on interface `name`: its current configuration. Throws DeviceError. */
export function getInterfaceHwTimestamping(name: string): { txType: number; rxFilter: number } {
  return hwTstampIoctl(name, SIOCGHWTSTAMP, "SIOCGHWTSTAMP", 0, 0);
}

function hwTstampIoctl(
  name: string,
  request: number,
  what: string,
  txType: number,
  rxFilter: number,
): { txType: number; rxFilter: number } {
  const nameBytes = new TextEncoder().encode(name);
  if (nameBytes.length >= IFREQ.namesize) throw new DeviceError(`ioctl ${what}`, 19, name);
  const cfg = new Uint8Array(HWTSTAMP_CONFIG.size);
  const cv = new DataView(cfg.buffer);
  cv.setInt32(HWTSTAMP_CONFIG.txType, txType, true);
  cv.setInt32(HWTSTAMP_CONFIG.rxFilter, rxFilter, true);
  const ifr = ifreqWithData(nameBytes, cfg);
  const fd = socket(L.AF_INET, L.SOCK_DGRAM | L.SOCK_CLOEXEC, 0);
  try {
    if (lib.ioctl(fd, BigInt(request), ifr) < 0) {
      throw new DeviceError(`ioctl ${what}`, errno(), name);
    }
  } finally {
    close(fd);
  }
  return {
    txType: cv.getInt32(HWTSTAMP_CONFIG.txType, true),
    rxFilter: cv.getInt32(HWTSTAMP_CONFIG.rxFilter, true),
  };
}

/** SIOCETHTOOL on `fd` for interface `name` with `data` as ifr_data; false (errno kept) on failure. */
function ethtool(fd: number, name: Uint8Array, data: Uint8Array): boolean {
  return lib.ioctl(fd, BigInt(SIOCETHTOOL), ifreqWithData(name, data)) >= 0;
}

/**
 * The link speed of interface `name` in Mb/s, 0 when the driver does not
 * know it (SPEED_UNKNOWN: link down, virtual NICs). ETHTOOL_GLINKSETTINGS
 * (its handshake: a first call with no mask words returns the kernel's
 * count, negated), else the older ETHTOOL_GSET. Throws DeviceError when
 * neither answers.
 */
export function interfaceLinkSpeed(name: string): number {
  const nameBytes = new TextEncoder().encode(name);
  if (nameBytes.length >= IFREQ.namesize) throw new DeviceError("ioctl SIOCETHTOOL", 19, name);
  const fd = socket(L.AF_INET, L.SOCK_DGRAM | L.SOCK_CLOEXEC, 0);
  try {
    let speed: number | null = null;
    const hs = new Uint8Array(ETHTOOL_LINK_SETTINGS.size);
    const hv = new DataView(hs.buffer);
    hv.setUint32(ETHTOOL_LINK_SETTINGS.cmd, ETHTOOL_GLINKSETTINGS, true);
    if (ethtool(fd, nameBytes, hs)) {
      const nwords = -hv.getInt8(ETHTOOL_LINK_SETTINGS.nwords);
      if (nwords > 0 && nwords < 128) {
        const ls = new Uint8Array(ETHTOOL_LINK_SETTINGS.size + 3 * 4 * nwords);
        const lv = new DataView(ls.buffer);
        lv.setUint32(ETHTOOL_LINK_SETTINGS.cmd, ETHTOOL_GLINKSETTINGS, true);
        lv.setInt8(ETHTOOL_LINK_SETTINGS.nwords, nwords);
        if (ethtool(fd, nameBytes, ls) && lv.getInt8(ETHTOOL_LINK_SETTINGS.nwords) === nwords) {
          speed = lv.getUint32(ETHTOOL_LINK_SETTINGS.speed, true);
        }
      }
    }
    if (speed === null) {
      const cmd = new Uint8Array(ETHTOOL_CMD.size);
      const cv = new DataView(cmd.buffer);
      cv.setUint32(ETHTOOL_CMD.cmd, ETHTOOL_GSET, true);
      if (!ethtool(fd, nameBytes, cmd)) throw new DeviceError("ioctl SIOCETHTOOL", errno(), name);
      speed = ((cv.getUint16(ETHTOOL_CMD.speedHi, true) << 16) |
        cv.getUint16(ETHTOOL_CMD.speed, true)) >>> 0;
    }
    return speed === ETHTOOL_SPEED_UNKNOWN ? 0 : speed;
  } finally {
    close(fd);
  }
}
