/**
 * A raw NTP client for interop tests and benches: sends basic mode-3
 * requests one at a time from one timestamping UDP socket and computes, per
 * exchange, the offset θ = ((T2 - T1) + (T3 - T4)) / 2 (positive: the server
 * is ahead) and the server's receive-to-transmit time T3 - T2, with T1/T4
 * the kernel's TX/RX software timestamps.
 *
 * @module
 */
import { UdpSocket } from "../../lib/io/udp.ts";
import {
  decodePacket,
  encodePacket,
  MODE_CLIENT,
  newPacket,
  ntpToTimestamp,
} from "../../lib/ntp/packet.ts";
import { ntp64Bits, type Timestamp } from "../../lib/time/timestamp.ts";

/** One exchange. */
export interface RawExchange {
  /** θ, seconds (server minus client). */
  offset: number;
  /** T4 - T1 - (T3 - T2), seconds. */
  delay: number;
  /** T3 - T2, seconds. */
  serverTime: number;
  /** The reply's leap indicator, stratum and reference ID. */
  leap: number;
  stratum: number;
  refId: number;
}

/** A client socket; `query(port)` runs one exchange with 127.0.0.1:port (null on timeout). */
export class RawClient {
  readonly #sock: UdpSocket;
  #tx = new Map<number, Timestamp>();
  #waiting: ((v: { bytes: Uint8Array; rx: Timestamp; kernel: boolean }) => void) | null = null;

  /** `source`: the local address requests come from (default 127.0.0.1). */
  constructor(source = "127.0.0.1") {
    this.#sock = UdpSocket.open({
      family: "ipv4",
      address: source,
      port: 0,
      timestamping: true,
    });
    this.#sock.onTxTimestamp((id, tx) => this.#tx.set(id, tx));
    this.#sock.onPacket((bytes, _from, rx, _local, kernel) => {
      const w = this.#waiting;
      this.#waiting = null;
      w?.({ bytes: bytes.slice(), rx, kernel });
    });
  }

  async query(port: number, timeoutMs = 1000): Promise<RawExchange | null> {
    const p = newPacket();
    p.mode = MODE_CLIENT;
    p.version = 4;
    const rnd = crypto.getRandomValues(new Uint8Array(8));
    p.transmitTs = ntp64Bits(new DataView(rnd.buffer).getBigUint64(0) | 1n);
    const got = new Promise<{ bytes: Uint8Array; rx: Timestamp; kernel: boolean } | null>((res) => {
      const t = setTimeout(() => {
        this.#waiting = null;
        res(null);
      }, timeoutMs);
      this.#waiting = (v) => {
        clearTimeout(t);
        res(v);
      };
    });
    const id = this.#sock.send(encodePacket(p), { family: "ipv4", address: "127.0.0.1", port }, {
      txTimestamp: true,
    });
    const r = await got;
    if (r === null || id === null || !r.kernel) return null;
    // the TX timestamp is normally in before the reply; give it a moment otherwise
    for (let i = 0; i < 20 && !this.#tx.has(id); i++) await new Promise((x) => setTimeout(x, 1));
    const t1 = this.#tx.get(id);
    this.#tx.delete(id);
    if (t1 === undefined) return null;
    const q = decodePacket(r.bytes);
    if (q.originTs !== p.transmitTs) return null;
    const t2 = ntpToTimestamp(q.receiveTs, r.rx)!;
    const t3 = ntpToTimestamp(q.transmitTs, r.rx)!;
    const t4 = r.rx;
    const s = (x: bigint) => Number(x) / 1e9;
    return {
      offset: (s(t2 - t1) + s(t3 - t4)) / 2,
      delay: s(t4 - t1) - s(t3 - t2),
      serverTime: s(t3 - t2),
      leap: q.leap,
      stratum: q.stratum,
      refId: q.referenceId >>> 0,
    };
  }

  close(): Promise<void> {
    return this.#sock.close();
  }
}

/** Median of a list (NaN when empty). */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
