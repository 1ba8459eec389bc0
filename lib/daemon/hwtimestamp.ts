/**
 * `hwtimestamp` (chrony.conf(5)): NIC hardware time stamps of NTP packets.
 *
 * - {@link checkHwTimestamping}, before the daemon starts: chronyd's
 *   behaviour for interfaces without hardware time stamping (a named
 *   interface without it, or missing, is fatal: "Could not enable HW
 *   timestamping on NAME"; `hwtimestamp *` passes over such interfaces
 *   silently). An interface has it when its driver reports raw hardware
 *   time stamps (ethtool's ETHTOOL_GET_TS_INFO).
 * - {@link HwTimestamping}: sets each interface up (receive filter,
 *   SIOCSHWTSTAMP, its PHC), reads the PHCs against the system clock
 *   between `minpoll` and `maxpoll` (`lib/clock/hwclock.ts` keeps
 *   `minsamples`..`maxsamples` readings) and converts the raw RX/TX stamps
 *   the sockets report (`lib/io/udp.ts`, `hwTimestamping`) to system time,
 *   `rxcomp` subtracted and `txcomp` added. An RX stamp of a datagram whose
 *   length is given is moved from the start of its frame to the end at the
 *   link speed (`rxFrameCorrectionNs`), the speed read from the driver
 *   (ETHTOOL_GLINKSETTINGS, else ETHTOOL_GSET) after each PHC reading and
 *   assumed 1000 Mb/s before the first, as chronyd. The system is reached
 *   through an {@link HwBackend}; tests inject one answering with recorded
 *   data.
 *
 * @example
 * ```ts
 * import { checkHwTimestamping } from "./hwtimestamp.ts";
 * const r = checkHwTimestamping([{ name: "hwtimestamp", args: ["*"], file: "c.conf", line: 1 }]);
 * r.fatal; // null: no interface without it is named
 * ```
 * @module
 */

import { interfaceTimestamping } from "../../ffi/libc.ts";
import {
  getInterfaceHwTimestamping,
  interfaceLinkSpeed,
  openClockDevice,
  setInterfaceHwTimestamping,
} from "../../ffi/devices.ts";
import {
  HWTSTAMP,
  SOF_TIMESTAMPING_RAW_HARDWARE,
  SOF_TIMESTAMPING_RX_HARDWARE,
  SOF_TIMESTAMPING_TX_HARDWARE,
} from "../../ffi/layout.ts";
import type { HwTimestampConfig, RxFilter } from "../conf/config.ts";
import type { UnsupportedUse } from "../conf/support.ts";
import {
  DEFAULT_LINK_SPEED_MBPS,
  HwClock,
  type HwConversion,
  type RxFrame,
  rxFrameCorrectionNs,
} from "../clock/hwclock.ts";
import { type ClockDevice, DeviceError } from "../refclock/device.ts";
import { RefclockError } from "../refclock/driver.ts";
import { PhcDriver } from "../refclock/phc.ts";
import { isOsError } from "../io/os_error.ts";
import type { Timestamp } from "../time/timestamp.ts";

/** The parts of a parsed directive this check reads. */
export interface HwDirective {
  name: string;
  args: readonly string[];
  file: string;
  line: number;
}

/** Outcome: a fatal message (chronyd's wording); `unsupported` stays empty (kept for callers). */
export interface HwTimestampCheck {
  fatal: string | null;
  unsupported: UnsupportedUse[];
}

/** Whether interface `name` has hardware time stamping; false when it is missing. */
export function hasHardwareTimestamping(name: string): boolean {
  try {
    const caps = interfaceTimestamping(name).soTimestamping;
    return (caps & SOF_TIMESTAMPING_RAW_HARDWARE) !== 0 &&
      (caps & (SOF_TIMESTAMPING_RX_HARDWARE | SOF_TIMESTAMPING_TX_HARDWARE)) !== 0;
  } catch (e) {
    if (!isOsError(e)) throw e;
    return false; // no such interface, or the ioctl refused: no hardware stamping
  }
}

/** Every network interface of this host (/sys/class/net), sorted. */
export function interfaceNames(): string[] {
  try {
    return [...Deno.readDirSync("/sys/class/net")].map((e) => e.name).sort();
  } catch (e) {
    if (!isOsError(e)) throw e;
    return []; // no sysfs (a container): no interfaces to enable
  }
}

/** Checks the `hwtimestamp` directives; see the module documentation. */
export function checkHwTimestamping(
  directives: readonly HwDirective[],
  has: (name: string) => boolean = hasHardwareTimestamping,
  _interfaces: () => string[] = interfaceNames,
): HwTimestampCheck {
  const unsupported: UnsupportedUse[] = [];
  for (const d of directives) {
    if (d.name !== "hwtimestamp") continue;
    const iface = d.args[0] ?? "";
    if (iface !== "*" && !has(iface)) {
      return { fatal: `Could not enable HW timestamping on ${iface}`, unsupported };
    }
  }
  return { fatal: null, unsupported };
}

// ---------------------------------------------------------------------------
// Enabling hardware time stamping and tracking the NIC clocks

/** What the interface set-up needs from the system (injected in tests). */
export interface HwBackend {
  /** Every network interface. */
  interfaces(): string[];
  /** ETHTOOL_GET_TS_INFO of an interface; null when it is missing or the driver has no answer. */
  tsInfo(
    name: string,
  ): { soTimestamping: number; phcIndex: number; txTypes: number; rxFilters: number } | null;
  /** Interface index; null when missing. */
  ifindex(name: string): number | null;
  /** SIOCSHWTSTAMP; returns what the driver applied. Throws. */
  setConfig(name: string, txType: number, rxFilter: number): { txType: number; rxFilter: number };
  /**
   * SIOCGHWTSTAMP: the interface's current configuration, asked when it
   * refuses SIOCSHWTSTAMP (no CAP_NET_ADMIN, or a driver that only lets it
   * be read); null when unknown. Absent: never asked.
   */
  getConfig?(name: string): { txType: number; rxFilter: number } | null;
  /** Opens /dev/ptpN read-only. Throws. */
  openPhc(path: string): ClockDevice;
  /**
   * The link speed in Mb/s (ETHTOOL_GLINKSETTINGS, else ETHTOOL_GSET); 0
   * when unknown (link down), null when the driver does not answer.
   * Absent: the speed stays at the assumed 1000 Mb/s.
   */
  linkSpeed?(name: string): number | null;
}

/** The real system: ethtool and SIOCSHWTSTAMP through ffi, /sys/class/net. */
export const SYSTEM_HW_BACKEND: HwBackend = {
  interfaces: interfaceNames,
  tsInfo(name) {
    try {
      return interfaceTimestamping(name);
    } catch (e) {
      if (!isOsError(e)) throw e;
      return null; // the ethtool ioctl refused: the caller treats it as no support
    }
  },
  ifindex(name) {
    try {
      return Number(Deno.readTextFileSync(`/sys/class/net/${name}/ifindex`).trim());
    } catch (e) {
      if (!isOsError(e)) throw e;
      return null; // the interface is gone
    }
  },
  setConfig: setInterfaceHwTimestamping,
  getConfig(name) {
    try {
      return getInterfaceHwTimestamping(name);
    } catch (e) {
      if (!(e instanceof DeviceError)) throw e;
      return null; // not readable either: the set-up failed
    }
  },
  openPhc: openClockDevice,
  linkSpeed(name) {
    try {
      return interfaceLinkSpeed(name);
    } catch (e) {
      if (!isOsError(e) && !(e instanceof DeviceError)) throw e;
      return null; // the driver has no answer: the last speed stays
    }
  },
};

/**
 * The receive filter for `requested` among the NIC's (`rxFilters`, a
 * bitmask of HWTSTAMP_FILTER_* bits): `all`, `ntp` (NTP_ALL, else ALL),
 * `ptp` (PTP v2 over UDP events, else all PTP v2 events, else none),
 * `none`; absent: the most specific for NTP, else none (the NIC then time
 * stamps only what it sends). Null when the requested one is unsupported.
 */
export function chooseRxFilter(requested: RxFilter | undefined, rxFilters: number): number | null {
  const has = (f: number) => (rxFilters & (1 << f)) !== 0;
  const first = (fs: number[]) => fs.find(has) ?? null;
  switch (requested) {
    case "none":
      return HWTSTAMP.FILTER_NONE;
    case "all":
      return first([HWTSTAMP.FILTER_ALL]);
    case "ntp":
      return first([HWTSTAMP.FILTER_NTP_ALL, HWTSTAMP.FILTER_ALL]);
    case "ptp":
      // as chronyd: a NIC without PTP filters stamps only what it sends
      return first([HWTSTAMP.FILTER_PTP_V2_L4_EVENT, HWTSTAMP.FILTER_PTP_V2_EVENT]) ??
        HWTSTAMP.FILTER_NONE;
    default:
      return first([HWTSTAMP.FILTER_NTP_ALL, HWTSTAMP.FILTER_ALL]) ?? HWTSTAMP.FILTER_NONE;
  }
}

/**
 * SIOCSHWTSTAMP; when refused, the interface may already be configured as
 * asked (by a PTP daemon, or a driver that only lets it be read): chronyd
 * then uses it as it is, checked with SIOCGHWTSTAMP. Throws the refusal.
 */
function setOrCheck(
  backend: HwBackend,
  name: string,
  txType: number,
  rxFilter: number,
): { txType: number; rxFilter: number } {
  try {
    return backend.setConfig(name, txType, rxFilter);
  } catch (e) {
    if (!(e instanceof DeviceError)) throw e;
    const current = backend.getConfig?.(name) ?? null;
    if (current?.txType === txType && current.rxFilter === rxFilter) return current;
    throw e;
  }
}

/** One interface with hardware time stamping on. */
export interface HwInterface {
  readonly name: string;
  readonly ifindex: number;
  readonly config: HwTimestampConfig;
  /** HWTSTAMP_FILTER_* applied to received packets. */
  readonly rxFilter: number;
  readonly clock: HwClock;
  readonly phc: PhcDriver;
  /** System time the next PHC reading is due. */
  nextReading: Timestamp;
  /** Mb/s, for the RX frame correction: 1000 until the driver reports one, 0 unknown. */
  linkSpeed: number;
}

/** chronyd's start-up line for an interface set up ("(TX only)" without a receive filter). */
export function enabledMessage(i: HwInterface): string {
  const txOnly = i.rxFilter === HWTSTAMP.FILTER_NONE ? "(TX only) " : "";
  return `Enabled HW timestamping ${txOnly}on ${i.name}`;
}

/** Counters of converted time stamps (serverstats / ntpdata). */
export interface HwCounters {
  rx: number;
  tx: number;
  /** Stamps that could not be converted (no interface, too few readings). */
  failed: number;
}

/** A `hwtimestamp` interface could not be set up (the daemon exits, as chronyd). */
export class HwTimestampError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "HwTimestampError";
  }
}

/** The result of {@link HwTimestamping.enable}. */
export interface HwEnableResult {
  hw: HwTimestamping;
  /** chronyd's fatal message for a named interface that could not be set up. */
  fatal: string | null;
}

/** See the section comment; one per daemon. */
export class HwTimestamping {
  readonly #interfaces: HwInterface[];
  readonly #backend: HwBackend;
  readonly counters: HwCounters = { rx: 0, tx: 0, failed: 0 };

  private constructor(interfaces: HwInterface[], backend: HwBackend) {
    this.#interfaces = interfaces;
    this.#backend = backend;
  }

  /**
   * Sets up every `hwtimestamp` interface: time stamping capabilities
   * (raw hardware clock and hardware receive or transmit), the receive
   * filter, SIOCSHWTSTAMP, the PHC. A named interface that fails is fatal
   * ("Could not enable HW timestamping on NAME", as chronyd); `*` passes
   * over interfaces without it silently. Each interface once (first
   * directive wins).
   */
  static enable(
    configs: readonly HwTimestampConfig[],
    now: Timestamp,
    backend: HwBackend = SYSTEM_HW_BACKEND,
  ): HwEnableResult {
    const done = new Map<string, HwInterface>();
    const enableOne = (name: string, c: HwTimestampConfig): boolean => {
      if (done.has(name)) return true;
      const info = backend.tsInfo(name);
      const ifindex = backend.ifindex(name);
      if (info === null || ifindex === null || info.phcIndex < 0) return false;
      const caps = info.soTimestamping;
      if (
        (caps & SOF_TIMESTAMPING_RAW_HARDWARE) === 0 ||
        (caps & (SOF_TIMESTAMPING_RX_HARDWARE | SOF_TIMESTAMPING_TX_HARDWARE)) === 0
      ) return false;
      const rx = chooseRxFilter(c.rxfilter, info.rxFilters);
      if (rx === null) return false;
      const tx = (info.txTypes & (1 << HWTSTAMP.TX_ON)) !== 0 ? HWTSTAMP.TX_ON : HWTSTAMP.TX_OFF;
      let applied: { txType: number; rxFilter: number };
      let phc: PhcDriver;
      try {
        applied = setOrCheck(backend, name, tx, rx);
        phc = PhcDriver.open(backend.openPhc(`/dev/ptp${info.phcIndex}`), {
          nocrossts: c.nocrossts,
        });
      } catch (e) {
        if (!(e instanceof DeviceError || e instanceof RefclockError)) throw e;
        return false; // the NIC refused the config or its PHC: reported as not enabled
      }
      done.set(name, {
        name,
        ifindex,
        config: c,
        rxFilter: applied.rxFilter,
        clock: new HwClock({
          minpoll: c.minpoll,
          maxpoll: c.maxpoll,
          minSamples: c.minsamples,
          maxSamples: c.maxsamples,
          precision: c.precision,
        }),
        phc,
        nextReading: now,
        linkSpeed: DEFAULT_LINK_SPEED_MBPS,
      });
      return true;
    };
    for (const c of configs) {
      if (c.interface === "*") {
        for (const name of backend.interfaces()) enableOne(name, c);
      } else if (!enableOne(c.interface, c)) {
        const hw = new HwTimestamping([...done.values()], backend);
        return { hw, fatal: `Could not enable HW timestamping on ${c.interface}` };
      }
    }
    return { hw: new HwTimestamping([...done.values()], backend), fatal: null };
  }

  /** The interfaces set up. */
  get interfaces(): readonly HwInterface[] {
    return this.#interfaces;
  }

  /**
   * Reads the PHCs that are due at system time `now`; returns the system
   * time the next reading is due (null with no interface).
   */
  poll(now: Timestamp): Timestamp | null {
    let next: Timestamp | null = null;
    for (const i of this.#interfaces) {
      if (i.nextReading <= now) {
        const m = i.phc.measure();
        if (m !== null) {
          i.clock.addReading(m.systemTime - m.offsetNs, m.systemTime, m.delay / 2);
          // the link may have renegotiated: its speed is read after each reading (as chronyd)
          const speed = this.#backend.linkSpeed?.(i.name) ?? null;
          if (speed !== null) i.linkSpeed = speed;
        }
        i.nextReading = now + BigInt(Math.round(2 ** i.clock.poll * 1e9));
      }
      if (next === null || i.nextReading < next) next = i.nextReading;
    }
    return next;
  }

  /** Interface by index, or null. */
  byIndex(ifindex: number): HwInterface | null {
    return this.#interfaces.find((i) => i.ifindex === ifindex) ?? null;
  }

  /**
   * A raw hardware RX time stamp of a packet received on `ifindex`, in
   * system time, `rxcomp` subtracted; with `frame`, first moved to the end
   * of the frame at the interface's link speed. Null (counted) when it
   * cannot be converted, and the caller uses the kernel's stamp.
   */
  convertRx(ifindex: number, raw: Timestamp, frame?: RxFrame): HwConversion | null {
    const i = frame ? this.byIndex(ifindex) : null;
    const shift = i && frame ? Math.round(rxFrameCorrectionNs(frame, i.linkSpeed)) : 0;
    return this.#convert(ifindex, raw + BigInt(shift), "rx");
  }

  /** A raw hardware TX time stamp, in system time, `txcomp` added; null when not convertible. */
  convertTx(ifindex: number, raw: Timestamp): HwConversion | null {
    return this.#convert(ifindex, raw, "tx");
  }

  #convert(ifindex: number, raw: Timestamp, dir: "rx" | "tx"): HwConversion | null {
    const i = this.byIndex(ifindex);
    const c = i?.clock.convert(raw) ?? null;
    if (i === null || c === null) {
      this.counters.failed++;
      return null;
    }
    this.counters[dir]++;
    const comp = dir === "rx" ? -i.config.rxcomp : i.config.txcomp;
    return { time: c.time + BigInt(Math.round(comp * 1e9)), err: c.err };
  }

  /** Closes the PHCs (the NICs keep their time stamping configuration, as with chronyd). */
  async close(): Promise<void> {
    await Promise.all(this.#interfaces.map((i) => i.phc.fini()));
  }
}
