/**
 * A pinned message arena for batched UDP IO with recvmmsg/sendmmsg: one
 * ArrayBuffer holds `batch` slots (packet buffer, source sockaddr, control
 * buffer, iovecs) and two contiguous `struct mmsghdr` arrays (receive and
 * send) whose pointers refer into the same buffer. After {@link MsgArena.recv}
 * each slot's packet bytes, length, source address, kernel RX timestamp and
 * local (destination) address can be read without allocating; replies are
 * written in place into a slot's packet buffer, queued with
 * {@link MsgArena.queueReply} and sent together by {@link MsgArena.flushReplies}.
 *
 * @example
 * ```ts
 * import { MsgArena } from "./msg_arena.ts";
 * const arena = new MsgArena({ batch: 64, packetSize: 2048 });
 * function serveBatch(fd: number) { // a non-blocking UDP socket
 *   const n = arena.recv(fd, 0); // messages received, or -errno
 *   for (let i = 0; i < n; i++) {
 *     const pkt = arena.packet(i); // full-capacity view; arena.length(i) bytes are valid
 *     // ...write the reply into pkt...
 *     arena.queueReply(i, 48, { txTimestamp: false, fromLocal: true });
 *   }
 *   arena.flushReplies(fd);
 * }
 * ```
 * @module
 */

import type { Timestamp } from "../lib/time/timestamp.ts";
import {
  CMSGHDR,
  IN6_PKTINFO,
  IN_PKTINFO,
  IOVEC,
  L,
  MMSGHDR,
  MSGHDR,
  SCM_TIMESTAMPING_LAYOUT,
  SCM_TIMESTAMPING_PKTINFO,
  SCM_TS_PKTINFO,
  SO_EE_ORIGIN_TIMESTAMPING,
  SOCK_EXTENDED_ERR,
  SOF_TIMESTAMPING_TX_SOFTWARE,
} from "./layout.ts";
import { decodeSockaddr, recvmmsgRaw, recvmsgRaw, sendmmsgRaw, type SockAddr } from "./libc.ts";

const NAME_SIZE = 32; // >= sizeof(struct sockaddr_in6) = 28, 8-aligned
const RX_CTL_SIZE = 256;
const TX_CTL_SIZE = 64; // CMSG_SPACE(4) + CMSG_SPACE(sizeof in6_pktinfo) = 24 + 40
const ERR_PKT_SIZE = 256;

const align8 = (n: number) => (n + 7) & ~7;
const TWO32 = 4294967296;

/** Options of a {@link MsgArena}. */
export interface MsgArenaOptions {
  /** Messages per recvmmsg/sendmmsg call (1..1024). */
  batch: number;
  /** Capacity of each packet buffer, bytes. Longer datagrams are truncated (`truncated(i)`). */
  packetSize: number;
  /**
   * Whether received control messages may carry NIC (raw hardware) stamps
   * to read (`hwtimestamp`); default true. false skips reading them.
   */
  hardware?: boolean;
}

/** Options of one queued reply. */
export interface ReplyOptions {
  /** Ask the kernel for a TX software timestamp of this packet (per-packet cmsg). */
  txTimestamp: boolean;
  /** Send from the local address the request arrived at (IP_PKTINFO/IPV6_PKTINFO cmsg). */
  fromLocal: boolean;
}

/** Offsets of one slot's parts inside the arena. */
interface SlotOffsets {
  pkt: number;
  name: number;
  rxCtl: number;
  txCtl: number;
  rxIov: number;
  txIov: number;
}

/**
 * Receive/send arena. Not thread-safe, not re-entrant: read a slot only until
 * the next `recv()`; queued replies must be flushed before the next `recv()`.
 */
export class MsgArena {
  /** Slots per batch. */
  readonly batch: number;
  /** Capacity of each slot's packet buffer, bytes. */
  readonly packetSize: number;
  /** The whole arena (pinned; never resized). */
  readonly buffer: Uint8Array;
  /** Bytes received per slot (valid for slots < the last `recv()` count). */
  readonly lengths: Int32Array;
  /** 1 when the slot carries a kernel RX timestamp. */
  readonly hasRxTimestamp: Uint8Array;
  /** Kernel RX timestamp per slot: whole seconds since the Unix epoch. */
  readonly rxSec: Float64Array;
  /** Kernel RX timestamp per slot: nanoseconds 0..999999999. */
  readonly rxNsec: Float64Array;
  /** Local address family per slot from pktinfo: 4, 6, or 0 when unknown. */
  readonly localFamily: Uint8Array;
  /** Local (destination) address bytes per slot: 16 bytes each (IPv4 in the first 4). */
  readonly localAddr: Uint8Array;
  /** Interface index the packet arrived on (from pktinfo), 0 when unknown. */
  readonly localIfindex: Int32Array;
  /** 1 when the slot carries a raw hardware RX timestamp (the NIC's clock, `hwtimestamp`). */
  readonly hasRxHw: Uint8Array;
  /**
   * With a hardware stamp (SOF_TIMESTAMPING_OPT_PKTINFO): the interface that
   * stamped it (the NIC under a bridge or bond) and the frame's layer-2
   * length; 0 when the kernel gave none.
   */
  readonly rxHwIfindex: Int32Array;
  readonly rxL2Length: Int32Array;
  /** Raw hardware RX timestamp per slot: seconds, nanoseconds (NIC clock). */
  readonly rxHwSec: Float64Array;
  readonly rxHwNsec: Float64Array;
  /** SOF_TIMESTAMPING_* flags of the per-packet TX timestamp request (TX_HARDWARE added with `hwtimestamp`). */
  txTimestampFlags: number = SOF_TIMESTAMPING_TX_SOFTWARE;
  /** After `recvErr()`: the raw hardware TX timestamp (0, 0 when none). */
  errHwSec = 0;
  errHwNsec = 0;
  /** After `recvErr()`: the interface the packet left by (OPT_CMSG pktinfo), 0 when unknown. */
  errIfindex = 0;

  /** After `recvErr()`: the OPT_ID key of the TX timestamp. */
  errKey = 0;
  /** After `recvErr()`: the timestamp's seconds since the Unix epoch. */
  errSec = 0;
  /** After `recvErr()`: the timestamp's nanoseconds. */
  errNsec = 0;

  readonly #dv: DataView;
  readonly #hardware: boolean;
  /** The arena's address (a pointer value: below 2^53, exact as a number). */
  readonly #base: number;
  readonly #slots: SlotOffsets[];
  readonly #packets: Uint8Array[];
  readonly #names: Uint8Array[];
  readonly #rxVec: Uint8Array;
  readonly #txVec: Uint8Array;
  readonly #rxOff: number;
  readonly #txOff: number;
  readonly #errMsg: Uint8Array;
  readonly #errMsgOff: number;
  readonly #errCtlOff: number;
  readonly #errIovOff: number;
  #lastReceived = 0;
  #queued = 0;
  /** Per queue position: the slot whose name and iovec its send mmsghdr points at (-1: none). */
  readonly #txSlotOf: Int32Array;
  /** Per slot: the control layout its reply control buffer holds (-1: none) and its length. */
  readonly #txLayout: Int32Array;
  readonly #txCtlLen: Int32Array;
  /** `localAddr` as 32-bit words (4 per slot, bytes in memory order). */
  readonly #localWords: Uint32Array;
  /** Per queue position of the last queued/flushed replies: the slot it came from. */
  readonly queuedSlot: Int32Array;
  /** Per queue position: 1 when that reply asked for a TX timestamp. */
  readonly queuedTxTimestamp: Uint8Array;

  constructor(options: MsgArenaOptions) {
    const { batch, packetSize } = options;
    if (!(batch >= 1 && batch <= 1024)) throw new RangeError("batch must be 1..1024");
    if (!(packetSize >= 48 && packetSize <= 65536)) throw new RangeError("packetSize 48..65536");
    this.batch = batch;
    this.packetSize = packetSize;
    this.#hardware = options.hardware ?? true;
    const pktSize = align8(packetSize);
    const slotSize = pktSize + NAME_SIZE + RX_CTL_SIZE + TX_CTL_SIZE + 2 * IOVEC.size;
    this.#rxOff = 0;
    this.#txOff = batch * MMSGHDR.size;
    const slotsOff = 2 * batch * MMSGHDR.size;
    this.#errMsgOff = slotsOff + batch * slotSize;
    this.#errIovOff = this.#errMsgOff + MMSGHDR.size;
    this.#errCtlOff = this.#errIovOff + IOVEC.size;
    const errPktOff = this.#errCtlOff + RX_CTL_SIZE;
    const total = errPktOff + ERR_PKT_SIZE;
    this.buffer = new Uint8Array(total);
    this.#dv = new DataView(this.buffer.buffer);
    this.#base = Number(Deno.UnsafePointer.value(Deno.UnsafePointer.of(this.buffer)));
    this.#rxVec = this.buffer.subarray(this.#rxOff, this.#txOff);
    this.#txVec = this.buffer.subarray(this.#txOff, slotsOff);
    this.#errMsg = this.buffer.subarray(this.#errMsgOff, this.#errMsgOff + MMSGHDR.size);
    this.lengths = new Int32Array(batch);
    this.hasRxTimestamp = new Uint8Array(batch);
    this.hasRxHw = new Uint8Array(batch);
    this.rxHwIfindex = new Int32Array(batch);
    this.rxL2Length = new Int32Array(batch);
    this.rxHwSec = new Float64Array(batch);
    this.rxHwNsec = new Float64Array(batch);
    this.rxSec = new Float64Array(batch);
    this.rxNsec = new Float64Array(batch);
    this.localFamily = new Uint8Array(batch);
    this.#localWords = new Uint32Array(batch * 4);
    this.localAddr = new Uint8Array(this.#localWords.buffer);
    this.#txSlotOf = new Int32Array(batch).fill(-1);
    this.#txLayout = new Int32Array(batch).fill(-1);
    this.#txCtlLen = new Int32Array(batch);
    this.localIfindex = new Int32Array(batch);
    this.queuedSlot = new Int32Array(batch);
    this.queuedTxTimestamp = new Uint8Array(batch);
    this.#slots = [];
    this.#packets = [];
    this.#names = [];
    for (let i = 0; i < batch; i++) {
      const o = slotsOff + i * slotSize;
      const s: SlotOffsets = {
        pkt: o,
        name: o + pktSize,
        rxCtl: o + pktSize + NAME_SIZE,
        txCtl: o + pktSize + NAME_SIZE + RX_CTL_SIZE,
        rxIov: o + pktSize + NAME_SIZE + RX_CTL_SIZE + TX_CTL_SIZE,
        txIov: o + pktSize + NAME_SIZE + RX_CTL_SIZE + TX_CTL_SIZE + IOVEC.size,
      };
      this.#slots.push(s);
      this.#packets.push(this.buffer.subarray(s.pkt, s.pkt + packetSize));
      this.#names.push(this.buffer.subarray(s.name, s.name + NAME_SIZE));
      this.#setPtr(s.rxIov + IOVEC.base, s.pkt);
      this.#setU64(s.rxIov + IOVEC.len, packetSize);
      this.#setPtr(s.txIov + IOVEC.base, s.pkt);
      this.#setU64(s.txIov + IOVEC.len, 0);
      this.#initRx(i);
      const t = this.#txOff + i * MMSGHDR.size;
      this.#setU64(t + MSGHDR.iovlen, 1);
      this.#setU64(t + MSGHDR.controllen, 0);
      this.#dv.setInt32(t + MSGHDR.flags, 0, true);
    }
    this.#setPtr(this.#errIovOff + IOVEC.base, errPktOff);
    this.#setU64(this.#errIovOff + IOVEC.len, ERR_PKT_SIZE);
    this.#lastReceived = batch;
  }

  // 64-bit fields as two 32-bit words (little-endian): no BigInt, so nothing is
  // allocated per packet (values below 2^53)

  #setPtr(at: number, target: number): void {
    this.#setU64(at, this.#base + target);
  }

  #setU64(at: number, v: number): void {
    this.#dv.setUint32(at, v >>> 0, true);
    this.#dv.setUint32(at + 4, Math.floor(v / TWO32), true);
  }

  /** A 64-bit signed field (time_t, long) as a number. */
  #getI64(at: number): number {
    return this.#dv.getInt32(at + 4, true) * TWO32 + this.#dv.getUint32(at, true);
  }

  /** A 64-bit size field (size_t: msg_controllen, cmsg_len) as a number. */
  #getU64(at: number): number {
    return this.#dv.getUint32(at + 4, true) * TWO32 + this.#dv.getUint32(at, true);
  }

  /** Slot `i`'s receive mmsghdr, all fields. */
  #initRx(i: number): void {
    const m = this.#rxOff + i * MMSGHDR.size;
    const s = this.#slots[i]!;
    this.#setPtr(m + MSGHDR.name, s.name);
    this.#setPtr(m + MSGHDR.iov, s.rxIov);
    this.#setU64(m + MSGHDR.iovlen, 1);
    this.#setPtr(m + MSGHDR.control, s.rxCtl);
    this.#resetRx(i);
  }

  /** Slot `i`'s receive mmsghdr: the fields the kernel writes (its pointers never change). */
  #resetRx(i: number): void {
    const m = this.#rxOff + i * MMSGHDR.size;
    const dv = this.#dv;
    dv.setUint32(m + MSGHDR.namelen, NAME_SIZE, true);
    this.#setU64(m + MSGHDR.controllen, RX_CTL_SIZE);
    dv.setInt32(m + MSGHDR.flags, 0, true);
    dv.setUint32(m + MMSGHDR.len, 0, true);
  }

  /**
   * recvmmsg into the slots (`flags` e.g. MSG_DONTWAIT). Returns the number of
   * messages received (slots 0..n-1 are filled and their cmsgs parsed), or
   * -errno (-EAGAIN = -11 when nothing is waiting).
   */
  recv(fd: number, flags: number): number {
    if (this.#queued !== 0) throw new Error("MsgArena.recv: flush queued replies first");
    for (let i = 0; i < this.#lastReceived; i++) this.#resetRx(i);
    const n = recvmmsgRaw(fd, this.#rxVec, this.batch, flags);
    this.#lastReceived = n > 0 ? n : 0;
    for (let i = 0; i < n; i++) {
      const m = this.#rxOff + i * MMSGHDR.size;
      this.lengths[i] = Math.min(this.#dv.getUint32(m + MMSGHDR.len, true), this.packetSize);
      this.#parseRxControl(i, m);
    }
    return n;
  }

  /**
   * Parses `control` (cmsgs as recvmmsg writes them, e.g. recorded from a
   * NIC with hardware stamps) into slot `i`'s RX fields, as a receive does.
   * For tests: loopback gives no hardware stamps.
   */
  parseRecordedControl(i: number, control: Uint8Array): void {
    const s = this.#slots[i]!;
    const m = this.#rxOff + i * MMSGHDR.size;
    this.buffer.set(control.subarray(0, RX_CTL_SIZE), s.rxCtl);
    this.#setU64(m + MSGHDR.controllen, Math.min(control.length, RX_CTL_SIZE));
    this.#parseRxControl(i, m);
    this.#resetRx(i);
  }

  #parseRxControl(i: number, m: number): void {
    const dv = this.#dv;
    this.hasRxTimestamp[i] = 0;
    this.hasRxHw[i] = 0;
    this.rxHwIfindex[i] = 0;
    this.rxL2Length[i] = 0;
    this.localFamily[i] = 0;
    this.localIfindex[i] = 0;
    const ctl = this.#slots[i]!.rxCtl;
    const len = this.#getU64(m + MSGHDR.controllen);
    for (let o = 0, guard = 0; o + CMSGHDR.size <= len && guard < 16; guard++) {
      const c = ctl + o;
      const clen = this.#getU64(c + CMSGHDR.len);
      if (clen < CMSGHDR.size) break;
      const level = dv.getInt32(c + CMSGHDR.level, true);
      const type = dv.getInt32(c + CMSGHDR.type, true);
      const d = c + CMSGHDR.size;
      if (level === L.SOL_SOCKET && (type === L.SO_TIMESTAMPING || type === L.SO_TIMESTAMPNS)) {
        // scm_timestamping.ts[0] and a plain timespec share their first 16 bytes
        const sec = this.#getI64(d + SCM_TIMESTAMPING_LAYOUT.software);
        const nsec = this.#getI64(d + SCM_TIMESTAMPING_LAYOUT.software + 8);
        if (sec !== 0 || nsec !== 0) {
          this.hasRxTimestamp[i] = 1;
          this.rxSec[i] = sec;
          this.rxNsec[i] = nsec;
        }
        if (
          this.#hardware && type === L.SO_TIMESTAMPING &&
          clen >= CMSGHDR.size + SCM_TIMESTAMPING_LAYOUT.size
        ) {
          const h = d + SCM_TIMESTAMPING_LAYOUT.hardware;
          const hs = this.#getI64(h);
          const hn = this.#getI64(h + 8);
          if (hs !== 0 || hn !== 0) {
            this.hasRxHw[i] = 1;
            this.rxHwSec[i] = hs;
            this.rxHwNsec[i] = hn;
          }
        }
      } else if (
        level === L.SOL_SOCKET && type === SCM_TIMESTAMPING_PKTINFO &&
        clen >= CMSGHDR.size + SCM_TS_PKTINFO.size
      ) {
        this.rxHwIfindex[i] = dv.getInt32(d + SCM_TS_PKTINFO.ifIndex, true);
        this.rxL2Length[i] = dv.getInt32(d + SCM_TS_PKTINFO.pktLength, true);
      } else if (level === L.SOL_IP && type === L.IP_PKTINFO) {
        this.localFamily[i] = 4;
        this.localIfindex[i] = dv.getInt32(d + IN_PKTINFO.ifindex, true);
        this.#localWords[i * 4] = dv.getUint32(d + IN_PKTINFO.addr, true);
      } else if (level === L.SOL_IPV6 && type === L.IPV6_PKTINFO) {
        this.localFamily[i] = 6;
        this.localIfindex[i] = dv.getInt32(d + IN6_PKTINFO.ifindex, true);
        for (let k = 0; k < 4; k++) {
          this.#localWords[i * 4 + k] = dv.getUint32(d + IN6_PKTINFO.addr + 4 * k, true);
        }
      }
      o += align8(clen);
    }
  }

  /** Slot `i`'s packet buffer at full capacity; `lengths[i]` bytes were received. */
  packet(i: number): Uint8Array {
    return this.#packets[i]!;
  }

  /** True when slot `i`'s datagram was longer than `packetSize` and was cut. */
  truncated(i: number): boolean {
    const m = this.#rxOff + i * MMSGHDR.size;
    return (this.#dv.getInt32(m + MSGHDR.flags, true) & L.MSG_TRUNC) !== 0;
  }

  /** Slot `i`'s source sockaddr bytes (sockaddr_in or sockaddr_in6; family at byte 0, LE). */
  sockaddr(i: number): Uint8Array {
    return this.#names[i]!;
  }

  /** Slot `i`'s source port (host order). */
  sourcePort(i: number): number {
    const n = this.#names[i]!;
    return (n[2]! << 8) | n[3]!;
  }

  /** Slot `i`'s source address and port (allocates strings). */
  source(i: number): SockAddr | null {
    return decodeSockaddr(this.#names[i]!);
  }

  /** Slot `i`'s raw hardware RX timestamp (NIC clock), or null. */
  rxHwTimestamp(i: number): Timestamp | null {
    if (this.hasRxHw[i] !== 1) return null;
    return BigInt(this.rxHwSec[i]!) * 1_000_000_000n + BigInt(this.rxHwNsec[i]!);
  }

  /** Slot `i`'s kernel RX timestamp, or null when the kernel gave none. */
  rxTimestamp(i: number): Timestamp | null {
    if (this.hasRxTimestamp[i] !== 1) return null;
    return BigInt(this.rxSec[i]!) * 1_000_000_000n + BigInt(this.rxNsec[i]!);
  }

  /**
   * Copies `bytes` into slot `i`'s packet buffer and `sockaddr` (an encoded
   * destination) into its address, ready for `queueReply(i, bytes.length, …)`.
   * For send-only arenas; do not mix with received data not yet answered.
   */
  stage(i: number, bytes: Uint8Array, sockaddr: Uint8Array): void {
    if (bytes.length > this.packetSize) throw new RangeError("packet larger than packetSize");
    if (sockaddr.length > NAME_SIZE) throw new RangeError("sockaddr too long");
    this.#packets[i]!.set(bytes);
    this.#names[i]!.set(sockaddr);
    const m = this.#rxOff + i * MMSGHDR.size;
    this.#dv.setUint32(m + MSGHDR.namelen, sockaddr.length, true);
    this.localFamily[i] = 0;
  }

  /** How many replies the last `flushReplies()` tried to send. */
  lastFlushCount = 0;

  /** Number of replies queued and not yet flushed. */
  get queued(): number {
    return this.#queued;
  }

  /**
   * Queues slot `i`'s packet buffer (its first `length` bytes) to be sent back
   * to slot `i`'s source address by the next `flushReplies()`.
   */
  queueReply(i: number, length: number, options: ReplyOptions): void {
    const j = this.#queued;
    if (j >= this.batch) throw new RangeError("MsgArena: reply queue full");
    if (length < 0 || length > this.packetSize) throw new RangeError("bad reply length");
    const dv = this.#dv;
    const s = this.#slots[i]!;
    const t = this.#txOff + j * MMSGHDR.size;
    if (this.#txSlotOf[j] !== i) {
      this.#txSlotOf[j] = i;
      this.#setPtr(t + MSGHDR.name, s.name);
      this.#setPtr(t + MSGHDR.iov, s.txIov);
    }
    const rx = this.#rxOff + i * MMSGHDR.size;
    dv.setUint32(t + MSGHDR.namelen, dv.getUint32(rx + MSGHDR.namelen, true), true);
    dv.setUint32(s.txIov + IOVEC.len, length, true); // its high word stays 0
    // The control messages: their headers are rewritten only when the slot's
    // layout changes (rare), the addresses every time.
    const c = s.txCtl;
    const fam = options.fromLocal ? this.localFamily[i]! : 0;
    const ts = options.txTimestamp;
    const layout = (ts ? 1 : 0) | (fam === 4 ? 2 : fam === 6 ? 4 : 0);
    if (this.#txLayout[i] !== layout) {
      this.#txLayout[i] = layout;
      this.#txCtlLen[i] = this.#writeTxControl(c, ts, fam);
    }
    const ctl = this.#txCtlLen[i]!;
    const p = c + (ts ? align8(CMSGHDR.size + 4) : 0) + CMSGHDR.size; // pktinfo data
    if (ts) dv.setUint32(c + CMSGHDR.size, this.txTimestampFlags, true);
    const w = this.#localWords, k = i * 4;
    if (fam === 4) {
      dv.setUint32(p + IN_PKTINFO.specDst, w[k]!, true);
    } else if (fam === 6) {
      for (let q = 0; q < 4; q++) dv.setUint32(p + IN6_PKTINFO.addr + 4 * q, w[k + q]!, true);
      dv.setInt32(p + IN6_PKTINFO.ifindex, this.localIfindex[i]!, true);
    }
    if (ctl > 0) this.#setPtr(t + MSGHDR.control, c);
    else this.#setU64(t + MSGHDR.control, 0);
    dv.setUint32(t + MSGHDR.controllen, ctl, true); // its high word stays 0
    dv.setUint32(t + MMSGHDR.len, 0, true);
    this.queuedSlot[j] = i;
    this.queuedTxTimestamp[j] = ts ? 1 : 0;
    this.#queued = j + 1;
  }

  /**
   * Writes the cmsg headers of a reply's control buffer at `c` (a TX time
   * stamp request and/or an IPv4 or IPv6 pktinfo with zero fields, the
   * address left for the caller); returns the control length.
   */
  #writeTxControl(c: number, txTimestamp: boolean, fam: number): number {
    const dv = this.#dv;
    let ctl = 0;
    if (txTimestamp) {
      this.#setU64(c + CMSGHDR.len, CMSGHDR.size + 4);
      dv.setInt32(c + CMSGHDR.level, L.SOL_SOCKET, true);
      dv.setInt32(c + CMSGHDR.type, L.SO_TIMESTAMPING, true);
      ctl = align8(CMSGHDR.size + 4);
    }
    if (fam === 4) {
      const p = c + ctl;
      this.buffer.fill(0, p, p + align8(CMSGHDR.size + IN_PKTINFO.size));
      this.#setU64(p + CMSGHDR.len, CMSGHDR.size + IN_PKTINFO.size);
      dv.setInt32(p + CMSGHDR.level, L.SOL_IP, true);
      dv.setInt32(p + CMSGHDR.type, L.IP_PKTINFO, true);
      ctl += align8(CMSGHDR.size + IN_PKTINFO.size);
    } else if (fam === 6) {
      const p = c + ctl;
      this.buffer.fill(0, p, p + align8(CMSGHDR.size + IN6_PKTINFO.size));
      this.#setU64(p + CMSGHDR.len, CMSGHDR.size + IN6_PKTINFO.size);
      dv.setInt32(p + CMSGHDR.level, L.SOL_IPV6, true);
      dv.setInt32(p + CMSGHDR.type, L.IPV6_PKTINFO, true);
      ctl += align8(CMSGHDR.size + IN6_PKTINFO.size);
    }
    return ctl;
  }

  /**
   * Sends the queued replies with sendmmsg and empties the queue. Returns the
   * number sent (the first n in queue order; the rest were dropped) or -errno.
   */
  flushReplies(fd: number, flags = 0): number {
    this.lastFlushCount = this.#queued;
    const count = this.#queued;
    this.#queued = 0;
    if (count === 0) return 0;
    return sendmmsgRaw(fd, this.#txVec, count, flags);
  }

  /**
   * Reads one message from the socket's error queue (MSG_ERRQUEUE|MSG_DONTWAIT).
   * Returns 1 when it was a TX timestamp (then `errKey`, `errSec`, `errNsec`
   * are set), 0 when it was something else, or -errno (-EAGAIN: queue empty).
   */
  recvErr(fd: number): number {
    const dv = this.#dv;
    const m = this.#errMsgOff;
    this.#setU64(m + MSGHDR.name, 0);
    dv.setUint32(m + MSGHDR.namelen, 0, true);
    this.#setPtr(m + MSGHDR.iov, this.#errIovOff);
    this.#setU64(m + MSGHDR.iovlen, 1);
    this.#setPtr(m + MSGHDR.control, this.#errCtlOff);
    this.#setU64(m + MSGHDR.controllen, RX_CTL_SIZE);
    dv.setInt32(m + MSGHDR.flags, 0, true);
    const n = recvmsgRaw(fd, this.#errMsg, L.MSG_ERRQUEUE | L.MSG_DONTWAIT);
    if (n < 0) return n;
    const len = this.#getU64(m + MSGHDR.controllen);
    let haveTs = false;
    let haveKey = false;
    this.errIfindex = 0;
    this.errHwSec = 0;
    this.errHwNsec = 0;
    for (let o = 0, guard = 0; o + CMSGHDR.size <= len && guard < 16; guard++) {
      const c = this.#errCtlOff + o;
      const clen = this.#getU64(c + CMSGHDR.len);
      if (clen < CMSGHDR.size) break;
      const level = dv.getInt32(c + CMSGHDR.level, true);
      const type = dv.getInt32(c + CMSGHDR.type, true);
      const d = c + CMSGHDR.size;
      if (level === L.SOL_SOCKET && type === L.SO_TIMESTAMPING) {
        this.errSec = this.#getI64(d + SCM_TIMESTAMPING_LAYOUT.software);
        this.errNsec = this.#getI64(d + SCM_TIMESTAMPING_LAYOUT.software + 8);
        const h = d + SCM_TIMESTAMPING_LAYOUT.hardware;
        const full = clen >= CMSGHDR.size + SCM_TIMESTAMPING_LAYOUT.size;
        this.errHwSec = full ? this.#getI64(h) : 0;
        this.errHwNsec = full ? this.#getI64(h + 8) : 0;
        haveTs = this.errSec !== 0 || this.errNsec !== 0 || this.errHwSec !== 0 ||
          this.errHwNsec !== 0;
      } else if (level === L.SOL_IP && type === L.IP_PKTINFO) {
        this.errIfindex = dv.getInt32(d + IN_PKTINFO.ifindex, true);
      } else if (level === L.SOL_IPV6 && type === L.IPV6_PKTINFO) {
        this.errIfindex = dv.getInt32(d + IN6_PKTINFO.ifindex, true);
      } else if (
        (level === L.SOL_IP && type === L.IP_RECVERR) ||
        (level === L.SOL_IPV6 && type === L.IPV6_RECVERR)
      ) {
        if (this.buffer[d + SOCK_EXTENDED_ERR.origin] === SO_EE_ORIGIN_TIMESTAMPING) {
          this.errKey = dv.getUint32(d + SOCK_EXTENDED_ERR.data, true);
          haveKey = true;
        }
      }
      o += align8(clen);
    }
    return haveTs && haveKey ? 1 : 0;
  }
}
