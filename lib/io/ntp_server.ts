/**
 * The NTP server's socket side: binds a UDP socket (`port`, `bindaddress`,
 * `binddevice`) and answers each recvmmsg batch in place with
 * {@link NtpServer.process}, then sends the batch with one sendmmsg. The
 * transmit timestamp of basic replies is read from CLOCK_REALTIME once per
 * batch right before sendmmsg ("as late as possible"); after a batch that
 * drained the socket, sched_yield() lets the client the reply woke run
 * before horae's own bookkeeping (a client taking T4 in user space would
 * otherwise see its reply late by the rest of our turn). Replies to interleaved
 * requests ask the kernel for a TX timestamp, which replaces the held transmit
 * timestamp for that client's next interleaved reply. The access check, the
 * client log and rate limiting run inside the responder before any reply
 * field is written. The per-packet path allocates nothing, NTS included (the
 * responder's {@link NtpServer} `auth` writes an authenticated reply's
 * transmit timestamp itself, before sealing, from a clock read without a
 * BigInt, and the reply may be longer than 48 bytes, up to the request's
 * length). With `smoothtime`, the responder's smoothing offset of the batch
 * ({@link NtpServer.servedOffset}) is added to every receive and transmit
 * timestamp written (kernel TX timestamps of interleaved replies too).
 *
 * @example
 * ```ts
 * import { NtpServerSocket } from "./ntp_server.ts";
 * import { NtpServer, unsynchronisedReference } from "../ntp/server.ts";
 * const server = new NtpServer({ reference: unsynchronisedReference(-20) });
 * const sock = NtpServerSocket.open(server, { family: "ipv4", address: "127.0.0.1", port: 0 });
 * console.log(sock.localAddress().port);
 * await sock.close();
 * ```
 * @module
 */
import { L } from "../../ffi/layout.ts";
import { schedYield } from "../../ffi/libc.ts";
import type { MsgArena } from "../../ffi/msg_arena.ts";
import type { Timestamp } from "../time/timestamp.ts";
import type { RxFrame } from "../clock/hwclock.ts";
import { newServerPacket, type NtpServer, type ServerPacket } from "../ntp/server.ts";
import { realNow, realNowTo } from "./realtime.ts";
import { type Family, type SockAddr, UdpSocket } from "./udp.ts";

/** Seconds from 1900 to 1970. RFC 5905 §6. */
const NTP_UNIX = 2208988800;
const TWO32 = 4294967296;
/** Outstanding kernel TX timestamps remembered (send id ring). */
const TX_RING = 1024;
/** Longest request served (chronyd 4.3 answers up to 1140 bytes, drops longer ones). */
const MAX_REQUEST_LENGTH = 1140;
/** How often the served reference fields are recomputed, seconds. */
const REFRESH_SECONDS = 1;

/** Options of {@link NtpServerSocket.open}. */
export interface NtpServerSocketOptions {
  /** Address family of this socket (chronyd opens one per family). */
  family: Family;
  /** `bindaddress` (default the wildcard). */
  address?: string;
  /** `port` (default 123; 0 lets the kernel pick). */
  port?: number;
  /** `binddevice`. */
  device?: string;
  /** Datagrams per recvmmsg/sendmmsg (default 64). */
  batch?: number;
  /** `hwtimestamp`: NIC stamps converted to system time (lib/daemon/hwtimestamp.ts). */
  hw?: ServerHwStamps | null;
  /**
   * The local clock's cooked time minus CLOCK_REALTIME, ns (read once per batch):
   * receive and transmit timestamps are served in cooked time, as chronyd's are.
   * It matters with `-x` (the correction is never applied to the system clock, so
   * the served time would otherwise be the uncorrected clock's) and while a slew
   * is in progress. Absent: served as CLOCK_REALTIME.
   */
  cookedOffset?: () => Timestamp;
  /** IP_TOS / IPV6_TCLASS of replies (`dscp` << 2). */
  tos?: number;
  /** SO_BROADCAST (`broadcast` directives). */
  broadcast?: boolean;
  /** `serverworkers`: sockets sharing the port (SO_REUSEPORT, steered by source address). */
  reusePortGroup?: number;
}

/** The part of `HwTimestamping` the server uses. */
export interface ServerHwStamps {
  convertRx(ifindex: number, raw: Timestamp, frame?: RxFrame): { time: Timestamp } | null;
  convertTx(ifindex: number, raw: Timestamp): { time: Timestamp } | null;
}

/** Counters of the socket side. */
export interface NtpServerSocketStats {
  /** Datagrams received. */
  received: number;
  /** Replies handed to sendmmsg. */
  replied: number;
  /** Datagrams dropped as truncated or from an unknown address family. */
  unusable: number;
  /** Kernel TX timestamps applied to held timestamps. */
  txTimestamps: number;
  /** Requests whose RX time is the NIC's stamp; NIC TX stamps applied (`hwtimestamp`). */
  hwRx: number;
  hwTx: number;
}

/** Options of queued replies (made once: none per reply). */
const REPLY = { txTimestamp: false, fromLocal: true } as const;
const REPLY_TX_STAMPED = { txTimestamp: true, fromLocal: true } as const;

/** NTP timestamp words of a (sec, nsec) pair. */
function ntpHi(sec: number): number {
  const v = sec + NTP_UNIX; // era arithmetic without a floating-point `%` (a libm call)
  return v - Math.floor(v / TWO32) * TWO32;
}
function ntpLo(nsec: number): number {
  const v = Math.round(nsec * 4.294967296);
  return v > 0xffffffff ? 0xffffffff : v;
}

/** A UDP socket serving NTP; see the module documentation. */
export class NtpServerSocket {
  /** Socket-side counters. */
  readonly stats: NtpServerSocketStats = {
    received: 0,
    replied: 0,
    unusable: 0,
    txTimestamps: 0,
    hwRx: 0,
    hwTx: 0,
  };
  #hw: ServerHwStamps | null = null;
  #cookedOffset: (() => Timestamp) | null = null;
  readonly #sock: UdpSocket;
  readonly #server: NtpServer;
  readonly #packets: ServerPacket[];
  readonly #queued: Int32Array; // queue position -> slot
  readonly #ringId = new Float64Array(TX_RING);
  readonly #ringSlot = new Int32Array(TX_RING);
  readonly #ringRxHi = new Uint32Array(TX_RING);
  readonly #ringRxLo = new Uint32Array(TX_RING);
  #lastRefresh = -Infinity;
  /** Smoothing offset of the last batch, nanoseconds (0 without smoothtime). */
  #shiftNs = 0;
  /** The batch's transmit time read as numbers: [Unix s, ns]. */
  readonly #txNow = new Float64Array(2);

  private constructor(sock: UdpSocket, server: NtpServer) {
    this.#sock = sock;
    this.#server = server;
    const arena = sock.arena;
    this.#packets = [];
    for (let i = 0; i < arena.batch; i++) {
      const pkt = arena.packet(i);
      const view = new DataView(pkt.buffer, pkt.byteOffset, pkt.byteLength);
      const p = newServerPacket(view, view);
      p.addr = arena.sockaddr(i);
      this.#packets.push(p);
    }
    this.#queued = new Int32Array(arena.batch);
    sock.onBatch((a, n, fallback) => this.#onBatch(a, n, fallback));
    sock.onTxTimestamp((id, tx) => this.#onTx(id, tx));
    sock.onHwTxTimestamp((id, raw, ifindex) => {
      const c = this.#hw?.convertTx(ifindex, raw) ?? null;
      if (c !== null && this.#onTx(id, c.time, true)) this.stats.hwTx++;
    });
  }

  /** Opens and binds the socket and starts serving `server`. Throws ErrnoError. */
  static open(server: NtpServer, options: NtpServerSocketOptions): NtpServerSocket {
    const open: Parameters<typeof UdpSocket.open>[0] = {
      family: options.family,
      port: options.port ?? 123,
      timestamping: true,
      batch: options.batch ?? 64,
      packetSize: MAX_REQUEST_LENGTH,
      freebind: true, // chronyd binds `bindaddress` even before the interface has it
    };
    if (options.address !== undefined) open.address = options.address;
    if (options.device !== undefined) open.device = options.device;
    if (options.hw) open.hwTimestamping = true;
    if (options.tos) open.tos = options.tos;
    if (options.broadcast) open.broadcast = true;
    if ((options.reusePortGroup ?? 1) > 1) open.reusePortGroup = options.reusePortGroup!;
    const s = new NtpServerSocket(UdpSocket.open(open), server);
    s.#hw = options.hw ?? null;
    s.#cookedOffset = options.cookedOffset ?? null;
    return s;
  }

  /** The socket's file descriptor. */
  get fd(): number {
    return this.#sock.fd;
  }

  /** The bound address and port. */
  localAddress(): SockAddr {
    return this.#sock.localAddress();
  }

  /**
   * Sends an NTP broadcast packet (`broadcast`) with poll `poll` to `to` from
   * this socket (chronyd sends them from its server socket). Throws
   * ErrnoError when the kernel refuses it.
   */
  sendBroadcast(poll: number, to: SockAddr): void {
    const out = new DataView(new ArrayBuffer(48));
    const shift = Math.round(this.#server.servedOffset(realNow()) * 1e9);
    const now = realNow() + BigInt(shift);
    this.#server.broadcast(
      out,
      poll,
      ntpHi(Number(now / 1_000_000_000n)),
      ntpLo(Number(now % 1_000_000_000n)),
    );
    this.#sock.send(new Uint8Array(out.buffer), to);
  }

  /**
   * Receives and answers one batch now (non-blocking), as a wake-up of the
   * poller does; returns the requests received or -errno (-EAGAIN: none).
   * For benchmarks (bench/server_cost.ts) that serve without the event loop.
   */
  receiveBatch(): number {
    return this.#sock.receiveBatch();
  }

  /** Stops serving and closes the socket. */
  close(): Promise<void> {
    return this.#sock.close();
  }

  #onBatch(arena: MsgArena, n: number, fallback: Timestamp): void {
    const server = this.#server;
    let fbSec = -1, fbNsec = 0;
    let queued = 0;
    // cooked - real, split into whole seconds and nanoseconds in 0..1e9 (no allocation per packet)
    const cook = this.#cookedOffset === null ? 0n : this.#cookedOffset();
    const cooked = cook !== 0n; // (a BigInt compared once per batch, not per packet)
    let cookSec = 0, cookNsec = 0;
    if (cooked) {
      cookSec = Number(cook / 1_000_000_000n);
      cookNsec = Number(cook % 1_000_000_000n);
      if (cookNsec < 0) {
        cookSec -= 1;
        cookNsec += 1_000_000_000;
      }
    }
    // smoothtime: the smoothing offset of the batch, added on top of cooked time
    const shift = Math.round(server.servedOffset(fallback) * 1e9);
    this.#shiftNs = shift;
    for (let i = 0; i < n; i++) {
      this.stats.received++;
      const p = this.#packets[i]!;
      const name = p.addr!;
      const af = name[0]! | (name[1]! << 8);
      if (af === L.AF_INET) {
        p.family = 4;
        p.addrOffset = 4; // sockaddr_in.sin_addr
      } else if (af === L.AF_INET6) {
        p.family = 6;
        p.addrOffset = 8; // sockaddr_in6.sin6_addr
      } else {
        this.stats.unusable++;
        continue;
      }
      if (arena.truncated(i)) {
        this.stats.unusable++;
        continue;
      }
      let sec: number, nsec: number;
      const hw = arena.hasRxHw[i] === 1 && this.#hw !== null
        ? this.#hw.convertRx(
          arena.rxHwIfindex[i] || arena.localIfindex[i]!,
          arena.rxHwTimestamp(i)!,
          arena.rxL2Length[i]
            ? { udpLength: arena.lengths[i]!, family: p.family, l2Length: arena.rxL2Length[i]! }
            : { udpLength: arena.lengths[i]!, family: p.family },
        )
        : null;
      if (hw !== null) {
        this.stats.hwRx++;
        sec = Number(hw.time / 1_000_000_000n);
        nsec = Number(hw.time % 1_000_000_000n);
      } else if (arena.hasRxTimestamp[i] === 1) {
        sec = arena.rxSec[i]!;
        nsec = arena.rxNsec[i]!;
      } else {
        if (fbSec < 0) {
          fbSec = Number(fallback / 1_000_000_000n);
          fbNsec = Number(fallback % 1_000_000_000n);
        }
        sec = fbSec;
        nsec = fbNsec;
      }
      if (cooked) {
        sec += cookSec;
        nsec += cookNsec;
        if (nsec >= 1_000_000_000) {
          sec += 1;
          nsec -= 1_000_000_000;
        }
      }
      if (sec - this.#lastRefresh >= REFRESH_SECONDS) {
        this.#lastRefresh = sec;
        server.refresh(BigInt(sec) * 1_000_000_000n + BigInt(nsec));
      }
      p.reqLength = arena.lengths[i]!;
      if (shift !== 0) {
        const ns = nsec + shift;
        const carry = Math.floor(ns / 1e9);
        sec += carry;
        nsec = ns - carry * 1e9;
      }
      p.rxHi = ntpHi(sec);
      p.rxLo = ntpLo(nsec);
      p.now = sec + nsec * 1e-9;
      const len = server.process(p);
      if (len === 0) continue;
      this.#queued[queued++] = i;
      // Kernel TX timestamps only for interleaved replies (authenticated basic
      // replies wrote their transmit timestamp: held as is, like a basic one's).
      const interleaved = !p.txPending && !p.txWritten;
      arena.queueReply(i, len, interleaved ? REPLY_TX_STAMPED : REPLY);
    }
    if (queued === 0) return;
    // Transmit timestamp as late as possible: one clock read for the batch.
    // (numbers, no BigInt: cooked - real and the shift are whole ns, so the sum is exact)
    const w = this.#txNow;
    realNowTo(w);
    let txSec = w[0]! + cookSec, txNsec = w[1]! + cookNsec + shift;
    const carry = Math.floor(txNsec / 1e9);
    txSec += carry;
    txNsec -= carry * 1e9;
    const txHi = ntpHi(txSec);
    const txLo = ntpLo(txNsec);
    for (let j = 0; j < queued; j++) {
      const p = this.#packets[this.#queued[j]!]!;
      if (p.txPending) {
        p.out.setUint32(40, txHi);
        p.out.setUint32(44, txLo);
      }
    }
    const sent = this.#sock.flushReplies();
    // Not under a flood (the kernel queue is drained): let the client our reply
    // just woke run now, as chronyd does by going back to sleep in select().
    // Without it, the rest of this turn delays a client on a busy machine by
    // tens of µs and clients taking T4 in user space see horae ~20-30 µs off.
    if (n < arena.batch) schedYield();
    this.stats.replied += sent > 0 ? sent : 0;
    const ids = this.#sock.replyIds;
    for (let j = 0; j < queued; j++) {
      const p = this.#packets[this.#queued[j]!]!;
      if (p.slot < 0) continue;
      if (p.txWritten) server.sent(p, p.out.getUint32(40), p.out.getUint32(44));
      else server.sent(p, txHi, txLo);
      if (!p.txPending && !p.txWritten) {
        const id = ids[j] ?? 0;
        if (id <= 0) continue;
        const r = id % TX_RING;
        this.#ringId[r] = id;
        this.#ringSlot[r] = p.slot;
        this.#ringRxHi[r] = p.rxHi;
        this.#ringRxLo[r] = p.rxLo;
      }
    }
  }

  #onTx(id: number, tx: Timestamp, hardware = false): boolean {
    const r = id % TX_RING;
    if (this.#ringId[r] !== id) return false;
    if (this.#cookedOffset !== null) tx += this.#cookedOffset();
    // with NIC stamps the entry waits for the NIC's, which comes after the kernel's
    if (hardware || this.#hw === null) this.#ringId[r] = 0;
    this.stats.txTimestamps++;
    if (this.#shiftNs !== 0) tx += BigInt(this.#shiftNs);
    this.#server.improveTx(
      this.#ringSlot[r]!,
      this.#ringRxHi[r]!,
      this.#ringRxLo[r]!,
      ntpHi(Number(tx / 1_000_000_000n)),
      ntpLo(Number(tx % 1_000_000_000n)),
    );
    return true;
  }
}
