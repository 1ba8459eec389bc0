/**
 * Tracking of a NIC's free-running clock (PHC) against the system clock,
 * for `hwtimestamp` (chrony.conf(5)): readings of (PHC time, system time)
 * pairs, at most `maxsamples` kept, turned by a least-squares line into a
 * conversion of any hardware time stamp to system time. At least
 * `minsamples` readings are needed; the readings' spread and the
 * `precision` option make the conversion's error estimate.
 *
 * The interval between readings starts at `minpoll` and doubles after each
 * reading the line predicted within three times its error, up to
 * `maxpoll`; a worse reading halves it again (down to `minpoll`), and a
 * reading off by more than {@link HWCLOCK_RESET_THRESHOLD} (the NIC clock
 * or the system clock was stepped) drops the older readings. These rules
 * are ours: chrony.conf(5) only gives the bounds.
 *
 * @example
 * ```ts
 * import { HwClock } from "./hwclock.ts";
 * const hc = new HwClock({ minpoll: 0, maxpoll: 1, minSamples: 2, maxSamples: 16, precision: 1e-7 });
 * hc.addReading(1_000_000_000n, 1_000_000_500n, 1e-7);
 * hc.addReading(2_000_000_000n, 2_000_000_600n, 1e-7);
 * hc.convert(3_000_000_000n)?.time; // 3_000_000_700n: the NIC runs 0.1 ppm slow
 * ```
 * @module
 */
import type { Timestamp } from "../time/timestamp.ts";

/** Seconds: a reading this far from the line restarts the tracking (our choice). */
export const HWCLOCK_RESET_THRESHOLD = 1e-3;

/** The `hwtimestamp` options the tracking uses. */
export interface HwClockOptions {
  minpoll: number;
  maxpoll: number;
  minSamples: number;
  maxSamples: number;
  /** Seconds, assumed precision of one reading. */
  precision: number;
}

interface Reading {
  phc: Timestamp;
  /** System minus PHC, ns. */
  offsetNs: bigint;
  /** Seconds, the reading's own uncertainty (half its reading delay). */
  err: number;
}

/** A converted hardware time stamp. */
export interface HwConversion {
  /** System time (CLOCK_REALTIME) of the stamp. */
  time: Timestamp;
  /** Seconds, estimated error. */
  err: number;
}

/** See the module doc. */
export class HwClock {
  readonly options: Readonly<HwClockOptions>;
  #readings: Reading[] = [];
  #poll: number;
  /** Line through the readings: offset(ns) = base + (a + b * (phc - ref) / 1e9) * 1e9. */
  #line: { ref: Timestamp; base: bigint; a: number; b: number; sd: number } | null = null;
  /** Readings that restarted the tracking. */
  resets = 0;

  constructor(options: HwClockOptions) {
    this.options = options;
    this.#poll = options.minpoll;
  }

  /** log2 seconds until the next reading is due. */
  get poll(): number {
    return this.#poll;
  }

  /** Readings kept. */
  get samples(): number {
    return this.#readings.length;
  }

  /** NIC clock frequency relative to the system clock (positive: the NIC is slow), s/s. */
  get frequency(): number | null {
    return this.#line && this.#readings.length >= 2 ? this.#line.b : null;
  }

  /** Adds a reading: PHC time and system time of one instant, its uncertainty (s). */
  addReading(phc: Timestamp, sys: Timestamp, err: number): void {
    const offsetNs = sys - phc;
    const predicted = this.#predictNs(phc);
    const o = this.options;
    if (predicted !== null) {
      const miss = Math.abs(Number(offsetNs - predicted)) / 1e9;
      if (miss > HWCLOCK_RESET_THRESHOLD) {
        this.#readings = [];
        this.resets++;
        this.#poll = o.minpoll;
      } else if (miss <= 3 * (this.#line!.sd + o.precision + err)) {
        this.#poll = Math.min(o.maxpoll, this.#poll + 1);
      } else {
        this.#poll = Math.max(o.minpoll, this.#poll - 1);
      }
    }
    this.#readings.push({ phc, offsetNs, err });
    while (this.#readings.length > Math.max(1, o.maxSamples)) this.#readings.shift();
    this.#fit();
  }

  /**
   * A hardware time stamp (PHC time) in system time, or null before
   * `minsamples` readings.
   */
  convert(phc: Timestamp): HwConversion | null {
    if (this.#readings.length < Math.max(1, this.options.minSamples)) return null;
    const ns = this.#predictNs(phc);
    if (ns === null) return null;
    return { time: phc + ns, err: this.options.precision + this.#line!.sd };
  }

  /** Forgets the readings (e.g. the interface went down). */
  reset(): void {
    this.#readings = [];
    this.#line = null;
    this.#poll = this.options.minpoll;
  }

  #predictNs(phc: Timestamp): bigint | null {
    const l = this.#line;
    if (l === null) return null;
    const x = Number(phc - l.ref) / 1e9;
    return l.base + BigInt(Math.round((l.a + l.b * x) * 1e9));
  }

  #fit(): void {
    const rs = this.#readings;
    const newest = rs.at(-1)!;
    const ref = newest.phc;
    const base = newest.offsetNs;
    const pts = rs.map((r) => ({
      x: Number(r.phc - ref) / 1e9,
      y: Number(r.offsetNs - base) / 1e9,
      w: 1 / (r.err + this.options.precision) ** 2,
    }));
    if (pts.length === 1) {
      this.#line = { ref, base, a: 0, b: 0, sd: 0 };
      return;
    }
    let sw = 0, sx = 0, sy = 0;
    for (const p of pts) {
      sw += p.w;
      sx += p.w * p.x;
      sy += p.w * p.y;
    }
    const mx = sx / sw, my = sy / sw;
    let sxx = 0, sxy = 0;
    for (const p of pts) {
      sxx += p.w * (p.x - mx) ** 2;
      sxy += p.w * (p.x - mx) * (p.y - my);
    }
    const b = sxx > 0 ? sxy / sxx : 0;
    const a = my - b * mx;
    let ss = 0;
    for (const p of pts) ss += (p.y - (a + b * p.x)) ** 2;
    const sd = pts.length > 2 ? Math.sqrt(ss / (pts.length - 2)) : 0;
    this.#line = { ref, base, a, b, sd };
  }
}

// ---------------------------------------------------------------------------
// Receive stamps: from the start of the frame to its end

/**
 * Bytes before the UDP data in an Ethernet frame without VLAN tags, IPv4
 * options or IPv6 extension headers: the MAC header (14), the IP header
 * (20 or 40) and the UDP header (8).
 */
export const L2_UDP_DATA_START: Readonly<Record<4 | 6, number>> = { 4: 42, 6: 62 };

/** Bytes of the Ethernet frame check sequence that ends every frame. */
export const ETHERNET_FCS_LENGTH = 4;

/** The link speed assumed until the driver has reported one, Mb/s (chronyd's). */
export const DEFAULT_LINK_SPEED_MBPS = 1000;

/** What the receive correction needs to know of a datagram. */
export interface RxFrame {
  /** Length of the UDP data (the NTP message, or the PTP message around it). */
  udpLength: number;
  family: 4 | 6;
  /** The frame's length at layer 2 when the kernel reported it (without the FCS). */
  l2Length?: number;
}

/**
 * Nanoseconds from a NIC's receive stamp to the end of the frame, at
 * `speedMbps`: NICs stamp a frame as its start-of-frame delimiter passes,
 * while the receive stamp of an NTP packet is the time its last bit
 * arrived (as the kernel's software stamp is). The frame is the layer-2
 * length (reported, else the UDP data behind the usual headers,
 * {@link L2_UDP_DATA_START}) plus the FCS; the preamble and delimiter came
 * before the stamp and do not count. 0 when the speed is unknown (0 or
 * negative: a link down or a driver without the answer).
 */
export function rxFrameCorrectionNs(frame: RxFrame, speedMbps: number): number {
  if (!(speedMbps > 0)) return 0;
  const l2 = frame.l2Length ?? L2_UDP_DATA_START[frame.family] + frame.udpLength;
  return ((l2 + ETHERNET_FCS_LENGTH) * 8 * 1000) / speedMbps;
}

/**
 * The interface whose clock stamped a datagram and its frame: the kernel's
 * SCM_TIMESTAMPING_PKTINFO (the NIC itself under a bridge or bond, and the
 * exact layer-2 length) when it gave one, else the arrival interface
 * (IP_PKTINFO) and the usual headers.
 */
export function stampedFrame(
  local: { ifindex: number; hwIfindex?: number; l2Length?: number },
  udpLength: number,
  family: 4 | 6,
): { ifindex: number; frame: RxFrame } {
  const frame: RxFrame = { udpLength, family };
  if (local.l2Length) frame.l2Length = local.l2Length;
  return { ifindex: local.hwIfindex || local.ifindex, frame };
}
