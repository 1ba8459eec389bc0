/**
 * UDP sockets on libc (via `ffi/`) with kernel software timestamps: every
 * received datagram comes with its kernel RX timestamp and the local address
 * it arrived on; a send can ask for a TX timestamp, reported later with the
 * send's id. Receiving uses recvmmsg in batches, driven by the process-wide
 * {@link poller}.
 *
 * Two receive APIs (pick one per socket):
 * - `onPacket(cb)`: one call per datagram with decoded addresses (allocates
 *   a little per packet; for NTP clients, cmdmon, tests).
 * - `onBatch(cb)`: one call per recvmmsg batch with the {@link MsgArena}
 *   itself: packet bytes, lengths, source sockaddrs and RX timestamps in typed
 *   arrays, and replies sent in place with `queueReply()` + the socket's
 *   `flushReplies()` (sendmmsg, no copies). This is the server's hot path.
 *
 * @example
 * ```ts
 * import { UdpSocket } from "./udp.ts";
 * const sock = UdpSocket.open({ family: "ipv4", address: "127.0.0.1", port: 0, timestamping: true });
 * sock.onPacket((bytes, from, rx) => console.log(bytes.length, from.address, rx));
 * sock.onTxTimestamp((sendId, tx) => console.log("sent", sendId, "at", tx));
 * const id = sock.send(new Uint8Array(48), { family: "ipv4", address: "127.0.0.1", port: 12345 },
 *   { txTimestamp: true });
 * await sock.close();
 * ```
 * @module
 */

import {
  addressFamily,
  afOf,
  bind,
  bindToDevice,
  close,
  connect,
  encodeSockaddr,
  ErrnoError,
  type Family,
  formatAddress,
  getsockname,
  setFreebind,
  setsockoptInt,
  type SockAddr,
  socket,
  steerReuseportBySource,
} from "../../ffi/libc.ts";
import {
  ERRNO,
  L,
  SOF_TIMESTAMPING_OPT_CMSG,
  SOF_TIMESTAMPING_OPT_ID,
  SOF_TIMESTAMPING_OPT_PKTINFO,
  SOF_TIMESTAMPING_OPT_TSONLY,
  SOF_TIMESTAMPING_RAW_HARDWARE,
  SOF_TIMESTAMPING_RX_HARDWARE,
  SOF_TIMESTAMPING_RX_SOFTWARE,
  SOF_TIMESTAMPING_SOFTWARE,
  SOF_TIMESTAMPING_TX_HARDWARE,
} from "../../ffi/layout.ts";
import { MsgArena } from "../../ffi/msg_arena.ts";
import type { Timestamp } from "../time/timestamp.ts";
import { takeInheritedSocket } from "./inherited_sockets.ts";
import { poller } from "./poller.ts";
import { realNow } from "./realtime.ts";

export type { Family, SockAddr };
export { ErrnoError, MsgArena };

/** Options of {@link UdpSocket.open}. */
export interface UdpOpenOptions {
  /** Address family. */
  family: Family;
  /** Local address to bind (default: the wildcard `0.0.0.0` / `::`). */
  address?: string;
  /** Local port (default 0: the kernel picks one; read it with `localAddress()`). */
  port?: number;
  /** Interface to bind to with SO_BINDTODEVICE (chrony's `binddevice`; needs CAP_NET_RAW). */
  device?: string;
  /** IP_TOS / IPV6_TCLASS byte of sent packets (chrony's `dscp` << 2); absent: left alone. */
  tos?: number;
  /** SO_BROADCAST: may send to broadcast addresses (chrony's `broadcast`). */
  broadcast?: boolean;
  /** Enable SO_TIMESTAMPING software RX stamps and per-packet TX stamps (default true). */
  timestamping?: boolean;
  /**
   * Also raw hardware RX and TX stamps (`hwtimestamp` interfaces, NIC clock
   * time, converted by lib/daemon/hwtimestamp.ts); default false.
   */
  hwTimestamping?: boolean;
  /** SO_REUSEADDR (default false). */
  reuseAddress?: boolean;
  /**
   * SO_REUSEPORT group of this many sockets (`serverworkers`), steered by
   * source address ({@link steerReuseportBySource}); absent or 1: not shared.
   */
  reusePortGroup?: number;
  /** IPV6_V6ONLY for IPv6 sockets (default true, as chronyd does). */
  v6Only?: boolean;
  /**
   * IP_FREEBIND / IPV6_FREEBIND: bind `address` even when no interface has it
   * yet (default false; chronyd's server and command sockets set it).
   */
  freebind?: boolean;
  /** Datagrams per recvmmsg call (default 32). */
  batch?: number;
  /** Receive buffer per datagram, bytes (default 2048; longer datagrams are dropped). */
  packetSize?: number;
}

/** Where a datagram arrived: the local address (from IP_PKTINFO/IPV6_PKTINFO). */
export interface LocalInfo {
  /** Local (destination) address, or null when unknown. */
  address: string | null;
  /** Interface index, 0 when unknown. */
  ifindex: number;
  /** With a NIC stamp: the interface that stamped it and the frame's layer-2 length (0: unknown). */
  hwIfindex?: number;
  l2Length?: number;
}

/**
 * Called per received datagram. `bytes` is a view into the receive arena that
 * is valid only during the call (copy it to keep it). `rx` is the kernel's
 * RX software timestamp, or CLOCK_REALTIME read right after recvmmsg returned
 * when the kernel gave none (`rxIsKernel` tells which).
 */
export type PacketCallback = (
  bytes: Uint8Array,
  from: SockAddr,
  rx: Timestamp,
  local: LocalInfo,
  rxIsKernel: boolean,
  hwRx: Timestamp | null,
) => void;

/**
 * Called per recvmmsg batch with the arena; slots `0..count-1` hold datagrams
 * (`arena.lengths[i]` bytes of `arena.packet(i)`; `arena.rxTimestamp(i)` or
 * `fallbackRx` when null). Queue replies with `arena.queueReply()`; the socket
 * flushes them with sendmmsg after the callback returns.
 */
export type BatchCallback = (arena: MsgArena, count: number, fallbackRx: Timestamp) => void;

/** Called when the kernel reports the TX timestamp of a send that asked for one. */
export type TxTimestampCallback = (sendId: number, tx: Timestamp) => void;

/**
 * With `hwTimestamping`: the raw hardware TX stamp (NIC clock) of a send and
 * the interface it left by (0 when unknown); reported after (separately
 * from) its software stamp.
 */
export type HwTxTimestampCallback = (sendId: number, raw: Timestamp, ifindex: number) => void;

/** One datagram for {@link UdpSocket.sendBatch}. */
export interface OutgoingPacket {
  /** Payload. */
  bytes: Uint8Array;
  /** Destination. */
  to: SockAddr;
  /** Ask for a TX timestamp. */
  txTimestamp?: boolean;
}

const SEND_PACKET_SIZE = 4096; // largest datagram send()/sendBatch() accept, bytes
const TX_RING = 4096; // OPT_ID key -> sendId memory for outstanding TX timestamps
/** SO_TIMESTAMPING flags added for `hwtimestamp`: NIC RX stamps, reported raw. */
const HW_RX_FLAGS = SOF_TIMESTAMPING_RX_HARDWARE | SOF_TIMESTAMPING_RAW_HARDWARE |
  SOF_TIMESTAMPING_OPT_PKTINFO; // the stamping NIC and the frame's length, as chronyd asks
const MAX_BATCHES_PER_WAKE = 16; // then yield to the event loop; poll() fires again
const MAX_ERRQUEUE_PER_WAKE = 256;

/** Errors of sendmsg that mean "this datagram was lost", not a broken socket. */
const TRANSIENT_SEND: ReadonlySet<number> = new Set([
  ERRNO.EAGAIN,
  ERRNO.ENOBUFS,
  ERRNO.ECONNREFUSED,
  ERRNO.ENETUNREACH,
  ERRNO.EHOSTUNREACH,
  ERRNO.EPERM,
  ERRNO.EINTR,
  ERRNO.ENETDOWN,
  ERRNO.EADDRNOTAVAIL,
]);

/** A non-blocking UDP socket with kernel timestamps, driven by the poller. */
export class UdpSocket {
  /** The socket's file descriptor. */
  readonly fd: number;
  /** Address family. */
  readonly family: Family;
  /** Receive arena (slots reused by every batch). */
  readonly arena: MsgArena;
  /** Whether SO_TIMESTAMPING is enabled. */
  readonly timestamping: boolean;
  /** errno of the last failed send (0 when none). */
  lastSendErrno = 0;

  #sendArena: MsgArena | null = null;
  #onPacket: PacketCallback | null = null;
  #onBatch: BatchCallback | null = null;
  #onTx: TxTimestampCallback | null = null;
  #onHwTx: HwTxTimestampCallback | null = null;
  #hw = false;
  #closed = false;
  #connected = false;
  #nextSendId = 1;
  #nextKey = 0; // next SOF_TIMESTAMPING_OPT_ID key the kernel will assign
  readonly #ringKey = new Float64Array(TX_RING).fill(-1);
  readonly #ringId = new Float64Array(TX_RING);

  private constructor(fd: number, family: Family, arena: MsgArena, timestamping: boolean) {
    this.fd = fd;
    this.family = family;
    this.arena = arena;
    this.timestamping = timestamping;
    this.replyIds = new Float64Array(Math.max(64, arena.batch));
  }

  /** Opens, configures and binds a socket; throws ErrnoError (e.g. `EADDRINUSE`). */
  static open(options: UdpOpenOptions): UdpSocket {
    const { family } = options;
    const timestamping = options.timestamping ?? true;
    // socket activation: a passed socket already bound there (lib/io/inherited_sockets.ts)
    const inherited = takeInheritedSocket(
      family,
      "dgram",
      options.address ?? (family === "ipv4" ? "0.0.0.0" : "::"),
      // a SO_REUSEPORT group (serverworkers) binds its own sockets
      (options.reusePortGroup ?? 1) > 1 ? 0 : options.port ?? 0,
    );
    const fd = inherited ??
      socket(afOf(family), L.SOCK_DGRAM | L.SOCK_NONBLOCK | L.SOCK_CLOEXEC, 0);
    try {
      if (options.reuseAddress) setsockoptInt(fd, L.SOL_SOCKET, L.SO_REUSEADDR, 1);
      const group = options.reusePortGroup ?? 1;
      if (group > 1) setsockoptInt(fd, L.SOL_SOCKET, L.SO_REUSEPORT, 1);
      if (family === "ipv6") {
        if (inherited === null) {
          setsockoptInt(fd, L.SOL_IPV6, L.IPV6_V6ONLY, options.v6Only === false ? 0 : 1);
        }
        setsockoptInt(fd, L.SOL_IPV6, L.IPV6_RECVPKTINFO, 1);
      } else {
        setsockoptInt(fd, L.SOL_IP, L.IP_PKTINFO, 1);
      }
      if (options.freebind) setFreebind(fd, family);
      if (options.device !== undefined) bindToDevice(fd, options.device);
      if (options.tos !== undefined && options.tos !== 0) {
        if (family === "ipv6") setsockoptInt(fd, L.SOL_IPV6, L.IPV6_TCLASS, options.tos);
        else setsockoptInt(fd, L.SOL_IP, L.IP_TOS, options.tos);
      }
      if (options.broadcast) setsockoptInt(fd, L.SOL_SOCKET, L.SO_BROADCAST, 1);
      if (timestamping) {
        const flags = SOF_TIMESTAMPING_RX_SOFTWARE | SOF_TIMESTAMPING_SOFTWARE |
          SOF_TIMESTAMPING_OPT_ID | SOF_TIMESTAMPING_OPT_TSONLY | SOF_TIMESTAMPING_OPT_CMSG |
          (options.hwTimestamping ? HW_RX_FLAGS : 0);
        try {
          setsockoptInt(fd, L.SOL_SOCKET, L.SO_TIMESTAMPING, flags);
        } catch (e) {
          // Linux < 4.13 refuses OPT_PKTINFO (EINVAL): without it, as chronyd after its probe
          if (!(e instanceof ErrnoError) || !(flags & SOF_TIMESTAMPING_OPT_PKTINFO)) throw e;
          setsockoptInt(fd, L.SOL_SOCKET, L.SO_TIMESTAMPING, flags & ~SOF_TIMESTAMPING_OPT_PKTINFO);
        }
      }
      const address = options.address ?? (family === "ipv4" ? "0.0.0.0" : "::");
      if (addressFamily(address) !== family) {
        throw new RangeError(`not an ${family} address: ${address}`);
      }
      if (inherited === null) {
        bind(fd, encodeSockaddr({ family, address, port: options.port ?? 0 }));
      }
      if (group > 1) steerReuseportBySource(fd, family, group);
    } catch (e) {
      close(fd);
      throw e;
    }
    const arena = new MsgArena({
      batch: options.batch ?? 32,
      packetSize: options.packetSize ?? 2048,
      hardware: timestamping && options.hwTimestamping === true,
    });
    const sock = new UdpSocket(fd, family, arena, timestamping);
    if (timestamping && options.hwTimestamping) {
      sock.#hw = true;
      arena.txTimestampFlags |= SOF_TIMESTAMPING_TX_HARDWARE;
    }
    return sock;
  }

  /**
   * connect(2)s the socket to `to`: the kernel then drops datagrams from any
   * other address or port, and ICMP errors for `to` are reported (and cleared
   * when the error queue is drained).
   */
  connect(to: SockAddr): void {
    connect(this.fd, encodeSockaddr(to));
    this.#connected = true;
  }

  /** The bound local address and port (getsockname). */
  localAddress(): SockAddr {
    return getsockname(this.fd);
  }

  /** Receives datagrams one callback each (replaces `onBatch`). */
  onPacket(cb: PacketCallback): void {
    this.#onPacket = cb;
    this.#onBatch = null;
    this.#watch();
  }

  /** Receives whole recvmmsg batches with direct arena access (replaces `onPacket`). */
  onBatch(cb: BatchCallback): void {
    this.#onBatch = cb;
    this.#onPacket = null;
    this.#watch();
  }

  /** Receives TX timestamps of sends that asked for one. */
  onTxTimestamp(cb: TxTimestampCallback): void {
    this.#onTx = cb;
    this.#watch();
  }

  /** Receives raw hardware TX timestamps (sockets opened with `hwTimestamping`). */
  onHwTxTimestamp(cb: HwTxTimestampCallback): void {
    this.#onHwTx = cb;
  }

  /** Whether raw hardware time stamps were asked for. */
  get hwTimestamping(): boolean {
    return this.#hw;
  }

  #watch(): void {
    if (this.#closed) throw new Error("UdpSocket is closed");
    poller.register(this.fd, () => this.#drain(), () => this.#drainErrors(), true);
  }

  /**
   * Sends one datagram. Returns its send id (positive, increasing), or null
   * when it was not sent for a transient reason (EAGAIN, ENOBUFS, unreachable:
   * the errno is in `lastSendErrno`); throws ErrnoError otherwise. With
   * `txTimestamp` (and `timestamping` on), `onTxTimestamp` later reports the
   * same id.
   */
  send(bytes: Uint8Array, to: SockAddr, options: { txTimestamp?: boolean } = {}): number | null {
    const arena = this.#sender(1);
    arena.stage(0, bytes, encodeSockaddr(to));
    arena.queueReply(0, bytes.length, {
      txTimestamp: options.txTimestamp === true && this.timestamping,
      fromLocal: false,
    });
    this.#sendQueued(arena);
    return this.replyIds[0]! > 0 ? this.replyIds[0]! : null;
  }

  /**
   * Sends up to 64 datagrams per sendmmsg call. Returns one entry per packet:
   * its send id, or null when it was not sent (see {@link send}).
   */
  sendBatch(packets: readonly OutgoingPacket[]): (number | null)[] {
    const out: (number | null)[] = [];
    const arena = this.#sender(64);
    for (let start = 0; start < packets.length; start += arena.batch) {
      const chunk = packets.slice(start, start + arena.batch);
      chunk.forEach((p, i) => {
        arena.stage(i, p.bytes, encodeSockaddr(p.to));
        arena.queueReply(i, p.bytes.length, {
          txTimestamp: p.txTimestamp === true && this.timestamping,
          fromLocal: false,
        });
      });
      this.#sendQueued(arena);
      for (let i = 0; i < chunk.length; i++) {
        out.push(this.replyIds[i]! > 0 ? this.replyIds[i]! : null);
      }
    }
    return out;
  }

  #sender(batch: number): MsgArena {
    if (this.#sendArena === null || this.#sendArena.batch < batch) {
      this.#sendArena = new MsgArena({ batch, packetSize: SEND_PACKET_SIZE });
      this.#sendArena.txTimestampFlags = this.arena.txTimestampFlags;
    }
    return this.#sendArena;
  }

  /**
   * Sends the replies queued in the receive arena with one sendmmsg (call it
   * inside an `onBatch` callback to learn the send ids; otherwise the socket
   * flushes after the callback). Returns the number sent; afterwards
   * `replyIds[j]` is the send id of queue position j (0 when not sent), which
   * `onTxTimestamp` reports for replies that asked for a TX timestamp.
   */
  flushReplies(): number {
    return this.#sendQueued(this.arena);
  }

  /**
   * Send ids of the last flushed batch per queue position (0 = not sent).
   * Overwritten by every send.
   */
  readonly replyIds: Float64Array;

  #sendQueued(arena: MsgArena): number {
    const count = arena.queued;
    const n = arena.flushReplies(this.fd);
    const ids = this.replyIds.length >= count ? this.replyIds : null;
    if (n < 0) {
      ids?.fill(0, 0, count);
      this.lastSendErrno = -n;
      if (TRANSIENT_SEND.has(-n)) return 0;
      throw new ErrnoError("sendmmsg", -n);
    }
    for (let j = 0; j < count; j++) {
      if (j >= n) {
        if (ids) ids[j] = 0;
        continue;
      }
      const id = this.#nextSendId++;
      if (ids) ids[j] = id;
      if (arena.queuedTxTimestamp[j] === 1) {
        const key = this.#nextKey;
        this.#nextKey = (key + 1) >>> 0;
        this.#ringKey[key % TX_RING] = key;
        this.#ringId[key % TX_RING] = id;
      }
    }
    return n;
  }

  /**
   * Stops receiving and closes the socket. The promise resolves once the
   * poller's outstanding `poll()` no longer includes it (awaiting is optional).
   */
  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    const done = poller.unregister(this.fd);
    close(this.fd);
    return done;
  }

  #drain(): void {
    for (let round = 0; round < MAX_BATCHES_PER_WAKE && !this.#closed; round++) {
      const n = this.receiveBatch();
      if (n <= 0) return;
      // Keep draining until the kernel has nothing: packets that arrived while this
      // batch was processed are cheaper to take now than after another poll().
      if (n < this.arena.batch && round > 0) return;
    }
  }

  /**
   * Receives one recvmmsg batch now (non-blocking) and hands it to the
   * receive callback, as a wake-up of the poller does (it calls this until
   * the socket is drained). Returns the datagrams received, or -errno
   * (-EAGAIN: none waiting). Benchmarks call it to serve without the poller.
   */
  receiveBatch(): number {
    if (this.#closed) return -ERRNO.EBADF;
    const arena = this.arena;
    const n = arena.recv(this.fd, L.MSG_DONTWAIT);
    if (n <= 0) return n;
    const fallback = realNow();
    if (this.#onBatch) {
      try {
        this.#onBatch(arena, n, fallback);
      } finally {
        if (arena.queued > 0) this.#sendQueued(arena);
      }
    } else if (this.#onPacket) {
      for (let i = 0; i < n; i++) {
        if (arena.truncated(i)) continue;
        const from = arena.source(i);
        if (!from) continue;
        const kernel = arena.rxTimestamp(i);
        const fam = arena.localFamily[i];
        const local: LocalInfo = {
          address: fam === 4
            ? formatAddress(arena.localAddr.subarray(i * 16, i * 16 + 4))
            : fam === 6
            ? formatAddress(arena.localAddr.subarray(i * 16, i * 16 + 16))
            : null,
          ifindex: arena.localIfindex[i]!,
          hwIfindex: arena.rxHwIfindex[i]!,
          l2Length: arena.rxL2Length[i]!,
        };
        this.#onPacket(
          arena.packet(i).subarray(0, arena.lengths[i]!),
          from,
          kernel ?? fallback,
          local,
          kernel !== null,
          arena.rxHwTimestamp(i),
        );
      }
    }
    return n;
  }

  #drainErrors(): void {
    const arena = this.arena;
    for (let i = 0; i < MAX_ERRQUEUE_PER_WAKE && !this.#closed; i++) {
      const r = arena.recvErr(this.fd);
      if (r < 0) {
        // A connected socket's pending ICMP error (ECONNREFUSED...) keeps POLLERR
        // up until a plain receive returns it: drain, or the poller would spin.
        if (this.#connected) this.#drain();
        return;
      }
      if (r === 0) continue;
      const key = arena.errKey;
      const slot = key % TX_RING;
      if (this.#ringKey[slot] !== key) continue;
      const id = this.#ringId[slot]!;
      const hw = arena.errHwSec !== 0 || arena.errHwNsec !== 0;
      if (hw) {
        // the NIC's stamp comes in its own message, after the software one
        this.#ringKey[slot] = -1;
        const raw = BigInt(arena.errHwSec) * 1_000_000_000n + BigInt(arena.errHwNsec);
        this.#onHwTx?.(id, raw, arena.errIfindex);
        continue;
      }
      if (!this.#hw) this.#ringKey[slot] = -1;
      const ts = BigInt(arena.errSec) * 1_000_000_000n + BigInt(arena.errNsec);
      this.#onTx?.(id, ts);
    }
  }
}
