/**
 * `ptpport` (chrony.conf(5), NTP-over-PTP, experimental): UDP sockets on the
 * PTP port (both families, on `bindaddress` if set, open whatever `port` and
 * `allow` say, as chronyd's), carrying NTP messages inside PTP Delay_Req messages
 * (`lib/ntp/ptp.ts`). A request (client or symmetric mode) is answered by
 * the NTP server's responder with the same access check, client log and
 * rate limiting as on the NTP port, and the reply goes back wrapped; a
 * reply (server mode) is handed to the client side (`onReply`), which sends
 * its requests to sources whose `port` is the PTP port through
 * {@link PtpPort.send}. Datagrams that are not NTP-over-PTP of our domain
 * are counted and dropped. With `hwtimestamp` (the `hw` of
 * {@link PtpPort.setServer}) the responder takes a request's RX time from
 * its NIC stamp (moved to the end of the frame), and an interleaved reply's
 * transmit time is improved by the kernel's TX stamp, then the NIC's, as on
 * the NTP port.
 *
 * @example
 * ```ts
 * import { PtpPort } from "./ptp_port.ts";
 * import { NtpServer, unsynchronisedReference } from "../ntp/server.ts";
 * const server = new NtpServer({ reference: unsynchronisedReference(-20) });
 * const p = PtpPort.open({ port: 0, domain: 123, server, families: ["ipv4"] });
 * await p.close();
 * ```
 * @module
 */
import { parseIp } from "../net/address.ts";
import { newServerPacket, type NtpServer } from "../ntp/server.ts";
import { decodeNtpOverPtp, encodeNtpOverPtp, ptpCorrection } from "../ntp/ptp.ts";
import { type Timestamp, toNtp64 } from "../time/timestamp.ts";
import { realNow } from "./realtime.ts";
import { type Family, type LocalInfo, type SockAddr, UdpSocket } from "./udp.ts";
import type { ServerHwStamps } from "./ntp_server.ts";
import { stampedFrame } from "../clock/hwclock.ts";

/** Interleaved replies whose TX stamps are still awaited (oldest dropped beyond). */
const HELD_TX_LIMIT = 256;

/** Where an interleaved reply's better transmit time goes (`NtpServer.improveTx`). */
interface HeldTx {
  slot: number;
  rxHi: number;
  rxLo: number;
}

/**
 * A reply for the client side: the NTP message (copied), where from, when,
 * and the length of the UDP data it came in (the PTP message: its frame's
 * length for the NIC stamp's correction).
 */
export type PtpReplyCallback = (
  ntp: Uint8Array,
  from: SockAddr,
  rx: Timestamp,
  local: LocalInfo,
  hwRx: Timestamp | null,
  udpLength: number,
  /** The PTP header's correctionField, seconds (transparent clocks' residence; F324). */
  correction: number,
) => void;

/** Options of {@link PtpPort.open}. */
export interface PtpPortOptions {
  port: number;
  /** `ptpdomain`. */
  domain: number;
  /** The NTP responder (null: requests are not answered). */
  server: NtpServer | null;
  families: readonly Family[];
  /** `bindaddress` per family (chronyd binds the PTP port there too); default the wildcard. */
  addresses?: { ipv4?: string | undefined; ipv6?: string | undefined };
  /** Raw NIC stamps too (`hwtimestamp ... rxfilter ptp`). */
  hwTimestamping?: boolean;
  /** Opens a socket (default `UdpSocket.open`); tests inject one delivering recorded NIC stamps. */
  openSocket?: (o: Parameters<typeof UdpSocket.open>[0]) => PtpSocket;
}

/** The part of a `UdpSocket` the port uses. */
export type PtpSocket =
  & Pick<
    UdpSocket,
    "onPacket" | "onTxTimestamp" | "onHwTxTimestamp" | "send" | "localAddress" | "close"
  >
  & { readonly hwTimestamping: boolean };

/** See the module doc. */
export class PtpPort {
  readonly #socks = new Map<Family, PtpSocket>();
  readonly #domain: number;
  #server: NtpServer | null;
  readonly #req = new Uint8Array(1140);
  readonly #out = new Uint8Array(1140);
  #onReply: PtpReplyCallback | null = null;
  #lastRefresh = 0n;
  #onTx: ((sendId: number, tx: Timestamp) => void) | null = null;
  #onHwTx: ((sendId: number, raw: Timestamp, ifindex: number) => void) | null = null;
  #hw: ServerHwStamps | null = null;
  /** Send id of an interleaved reply -> its client log entry. */
  readonly #heldTx = new Map<number, HeldTx>();
  /** Datagrams that were not NTP-over-PTP of our domain. */
  invalid = 0;
  /** Requests answered. */
  answered = 0;
  /** Requests whose RX time is the NIC's stamp; NIC TX stamps of replies applied. */
  hwRx = 0;
  hwTx = 0;
  /** Kernel TX stamps applied to interleaved replies. */
  txTimestamps = 0;

  private constructor(o: PtpPortOptions) {
    this.#domain = o.domain;
    this.#server = o.server;
  }

  /** Opens the port on every family (the address wildcard). Throws ErrnoError. */
  static open(o: PtpPortOptions): PtpPort {
    const p = new PtpPort(o);
    try {
      for (const family of o.families) {
        const address = o.addresses?.[family];
        const sock = (o.openSocket ?? UdpSocket.open)({
          family,
          ...(address ? { address } : {}),
          port: o.port,
          timestamping: true,
          hwTimestamping: o.hwTimestamping ?? false,
          batch: 8,
        });
        p.#socks.set(family, sock);
        sock.onPacket((bytes, from, rx, local, _k, hwRx) =>
          p.#receive(sock, bytes, from, rx, local, hwRx)
        );
        sock.onTxTimestamp((id, tx) => {
          if (!p.#serverTx(id, tx, false)) p.#onTx?.(id, tx);
        });
        sock.onHwTxTimestamp((id, raw, ifindex) => {
          if (!p.#serverTx(id, raw, true, ifindex)) p.#onHwTx?.(id, raw, ifindex);
        });
      }
    } catch (e) {
      p.close();
      throw e;
    }
    return p;
  }

  /** The bound port of `family` (tests bind port 0). */
  localPort(family: Family): number | null {
    return this.#socks.get(family)?.localAddress().port ?? null;
  }

  /**
   * Sets the NTP responder (the daemon creates it after the port) and the
   * NIC stamp conversion of `hwtimestamp` interfaces (null: kernel stamps).
   */
  setServer(server: NtpServer | null, hw: ServerHwStamps | null = null): void {
    this.#server = server;
    this.#hw = hw;
  }

  /** Where replies to our requests go. */
  onReply(cb: PtpReplyCallback): void {
    this.#onReply = cb;
  }

  /** TX stamps of our requests (software, then raw NIC ones). */
  onTxTimestamp(
    cb: (sendId: number, tx: Timestamp) => void,
    hw: (sendId: number, raw: Timestamp, ifindex: number) => void,
  ): void {
    this.#onTx = cb;
    this.#onHwTx = hw;
  }

  /** Whether NIC stamps were asked for. */
  get hwTimestamping(): boolean {
    return [...this.#socks.values()].some((s) => s.hwTimestamping);
  }

  /** Sends an NTP request wrapped; returns its send id, or null (not sent / no socket). */
  send(ntp: Uint8Array, to: SockAddr): number | null {
    const sock = this.#socks.get(to.family);
    if (!sock) return null;
    return sock.send(encodeNtpOverPtp(ntp, this.#domain), to, { txTimestamp: true });
  }

  /** Closes the sockets. */
  async close(): Promise<void> {
    await Promise.all([...this.#socks.values()].map((s) => s.close()));
    this.#socks.clear();
  }

  #receive(
    sock: PtpSocket,
    bytes: Uint8Array,
    from: SockAddr,
    rx: Timestamp,
    local: LocalInfo,
    hwRx: Timestamp | null,
  ): void {
    const ntp = decodeNtpOverPtp(bytes, this.#domain);
    if (ntp === null) {
      this.invalid++;
      return;
    }
    const mode = ntp[0]! & 7;
    if (mode === 4) {
      this.#onReply?.(ntp.slice(), from, rx, local, hwRx, bytes.length, ptpCorrection(bytes));
      return;
    }
    const server = this.#server;
    if (server === null || ntp.length > this.#req.length) return;
    const addr = parseIp(from.address)?.bytes ?? null;
    if (addr === null) return;
    this.#req.set(ntp);
    const p = newServerPacket(
      new DataView(this.#req.buffer, 0, ntp.length),
      new DataView(this.#out.buffer),
    );
    p.reqLength = ntp.length;
    p.addr = addr;
    p.addrOffset = 0;
    p.family = from.family === "ipv4" ? 4 : 6;
    const nic = hwRx !== null && this.#hw !== null
      ? this.#convertRx(hwRx, local, bytes.length, p.family)
      : null;
    if (nic !== null) {
      this.hwRx++;
      rx = nic.time;
      p.ptpCorrection = ptpCorrection(bytes); // F324: only with a NIC stamp (ef_f324.ts)
    }
    const r = toNtp64(rx);
    p.rxHi = r.hi;
    p.rxLo = r.lo;
    p.now = Number(rx) / 1e9;
    // the served header fields are recomputed once a second, as on the NTP port
    if (rx - this.#lastRefresh >= 1_000_000_000n) {
      this.#lastRefresh = rx;
      server.refresh(rx);
    }
    const len = server.process(p);
    if (len === 0) return;
    const tx = toNtp64(realNow());
    if (p.txPending) {
      p.out.setUint32(40, tx.hi);
      p.out.setUint32(44, tx.lo);
    }
    // TX stamps only for interleaved replies (their transmit time goes in the next reply)
    const interleaved = !p.txPending && !p.txWritten;
    const id = sock.send(encodeNtpOverPtp(this.#out.subarray(0, len), this.#domain), from, {
      txTimestamp: interleaved,
    });
    if (id === null) return;
    this.answered++;
    if (p.txWritten) server.sent(p, p.out.getUint32(40), p.out.getUint32(44));
    else server.sent(p, tx.hi, tx.lo);
    if (interleaved && p.slot >= 0) {
      if (this.#heldTx.size >= HELD_TX_LIMIT) {
        this.#heldTx.delete(this.#heldTx.keys().next().value!);
      }
      this.#heldTx.set(id, { slot: p.slot, rxHi: p.rxHi, rxLo: p.rxLo });
    }
  }

  #convertRx(hwRx: Timestamp, local: LocalInfo, udpLength: number, family: 4 | 6) {
    const s = stampedFrame(local, udpLength, family);
    return this.#hw!.convertRx(s.ifindex, hwRx, s.frame);
  }

  /**
   * A TX stamp of one of our interleaved replies (false: not one, it is the
   * client's): the kernel's improves the held transmit time; with NIC
   * stamps the entry waits for the NIC's, which comes after and replaces it.
   */
  #serverTx(id: number, stamp: Timestamp, hardware: boolean, ifindex = 0): boolean {
    const held = this.#heldTx.get(id);
    if (held === undefined) return false;
    let tx = stamp;
    if (hardware) {
      this.#heldTx.delete(id);
      const c = this.#hw?.convertTx(ifindex, stamp) ?? null;
      if (c === null) return true;
      this.hwTx++;
      tx = c.time;
    } else {
      if (this.#hw === null) this.#heldTx.delete(id);
      this.txTimestamps++;
    }
    const t = toNtp64(tx);
    this.#server?.improveTx(held.slot, held.rxHi, held.rxLo, t.hi, t.lo);
    return true;
  }
}
