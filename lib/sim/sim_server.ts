/**
 * A simulated stratum-1 NTP server for the simulator. Its clock is true time
 * plus an error that is either none (a perfect clock), a fixed offset (a
 * falseticker) or a step at a given moment; it can announce and apply a
 * leap second insertion (its UTC then repeats a second, as every clock
 * following UTC does). It answers client-mode (3) requests with server-mode
 * (4) replies built with lib/ntp/packet.ts.
 *
 * @example
 * ```ts
 * import { SimServer } from "./sim_server.ts";
 * const server = new SimServer({ offset: 1 }); // a falseticker, 1 s fast
 * server.clockAt(0n); // 1_000_000_000n
 * ```
 * @module
 */
import {
  decodePacket,
  encodePacket,
  MODE_CLIENT,
  MODE_SERVER,
  newPacket,
  PacketError,
  timestampToNtp,
} from "../ntp/packet.ts";
import type { LeapIndicator } from "../clock/sample.ts";
import { addSeconds, NS_PER_SEC, type Timestamp } from "../time/timestamp.ts";

/** How a simulated server's clock behaves. */
export interface SimServerSpec {
  /** Constant error of the server's clock, seconds (positive = fast). Default 0. */
  offset?: number;
  /** The server's clock steps by `by` seconds (positive = forward) at `at` s after the start. */
  step?: { at: number; by: number };
  /** Server processing time between receive and transmit, seconds. Default 2 µs. */
  processing?: number;
  /** Stratum of the replies. Default 1. */
  stratum?: number;
  /** Root dispersion of the replies, seconds. Default 10 µs. */
  rootDispersion?: number;
}

/** Where time starts and when a leap second is inserted (shared by all servers). */
export interface SimServerWorld {
  /** True time at the start of the run (the origin of `step.at`). */
  start: Timestamp;
  /** True time of the UTC midnight at whose end a second is inserted, or null. */
  leapInsertAt: Timestamp | null;
}

/** Reference ID of the simulated refclock: "GPS". */
const REFID_GPS = 0x47505300;
/** Precision of the replies, log2 s (about 1 µs). */
const PRECISION = -20;
/** The leap second is announced during the last day before it. RFC 5905 §7.3 leaves the span open. */
const ANNOUNCE_NS = 86_400n * NS_PER_SEC;

/** A simulated NTP server. */
export class SimServer {
  readonly #offset: number;
  readonly #step: { at: Timestamp; by: number } | null;
  readonly #processing: number;
  readonly #stratum: number;
  readonly #rootDispersion: number;
  readonly #world: SimServerWorld;
  /** Requests answered. */
  served = 0;

  constructor(spec: SimServerSpec, world: SimServerWorld = { start: 0n, leapInsertAt: null }) {
    this.#offset = spec.offset ?? 0;
    this.#step = spec.step ? { at: addSeconds(world.start, spec.step.at), by: spec.step.by } : null;
    this.#processing = spec.processing ?? 2e-6;
    this.#stratum = spec.stratum ?? 1;
    this.#rootDispersion = spec.rootDispersion ?? 10e-6;
    this.#world = world;
  }

  /** Server processing time, seconds. */
  get processing(): number {
    return this.#processing;
  }

  /** Error of the server's clock at true time `t`, seconds (leap seconds excluded). */
  errorAt(t: Timestamp): number {
    const s = this.#step;
    return this.#offset + (s !== null && t >= s.at ? s.by : 0);
  }

  /** The server's clock (UTC as it tells it) at true time `t`. */
  clockAt(t: Timestamp): Timestamp {
    return addSeconds(t, this.errorAt(t) + utcShift(t, this.#world.leapInsertAt));
  }

  /** Leap indicator the server announces at true time `t`. */
  leapAt(t: Timestamp): LeapIndicator {
    const leap = this.#world.leapInsertAt;
    return leap !== null && t < leap && leap - t <= ANNOUNCE_NS ? 1 : 0;
  }

  /**
   * Answers a request that arrived at true time `rxTrue`; the reply leaves
   * `processing` seconds later. Returns null for anything but a valid
   * client-mode request.
   */
  respond(request: Uint8Array, rxTrue: Timestamp): Uint8Array | null {
    let req;
    try {
      req = decodePacket(request);
    } catch (e) {
      if (e instanceof PacketError) return null;
      throw e;
    }
    if (req.mode !== MODE_CLIENT) return null;
    const txTrue = addSeconds(rxTrue, this.#processing);
    const rx = this.clockAt(rxTrue);
    const tx = this.clockAt(txTrue);
    this.served++;
    return encodePacket({
      ...newPacket(),
      leap: this.leapAt(rxTrue),
      version: req.version,
      mode: MODE_SERVER,
      stratum: this.#stratum,
      poll: req.poll,
      precision: PRECISION,
      rootDelay: 0,
      rootDispersion: this.#rootDispersion,
      referenceId: REFID_GPS,
      referenceTs: timestampToNtp(rx - 8n * NS_PER_SEC),
      originTs: req.transmitTs,
      receiveTs: timestampToNtp(rx),
      transmitTs: timestampToNtp(tx),
    });
  }
}

/** UTC minus true time, seconds, at true time `t`: -1 once an inserted leap second has passed. */
export function utcShift(t: Timestamp, leapInsertAt: Timestamp | null): number {
  return leapInsertAt !== null && t >= leapInsertAt ? -1 : 0;
}
