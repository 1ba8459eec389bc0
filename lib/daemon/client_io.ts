/**
 * The IO edge of the NTP client: carries out the {@link Engine}'s actions on
 * real sockets and timers. As chronyd does, each request to a server goes out
 * on a new UDP socket (bound to `bindacqaddress`/`bindacqdevice`, a random
 * ephemeral port) connect()ed to the server, so the kernel drops datagrams
 * from any other address or port and a spoofer must guess the port. The
 * socket is closed once a valid reply was processed (and the request's kernel
 * TX timestamp has arrived), when the source sends its next request, or
 * {@link REQUEST_SOCKET_TIMEOUT} s after the request. With `acquisitionport`
 * set (not 0), and always for symmetric peers, one shared socket per address
 * family bound to that port sends every request instead, and replies are
 * matched to their source by address and port. Requests ask for a kernel TX
 * timestamp; replies go to the engine with their kernel RX timestamp,
 * converted from raw to cooked time. It also ticks the clock's slewing layer
 * when it asks to be.
 *
 * @example
 * ```ts
 * import { ClientIo } from "./client_io.ts";
 * function start(io: ClientIo) {
 *   io.run(io.engine.start());
 * }
 * ```
 * @module
 */
import { type LocalInfo, type SockAddr, UdpSocket } from "../io/udp.ts";
import type { PtpPort } from "../io/ptp_port.ts";
import type { Engine, EngineAction } from "../engine/engine.ts";
import type { Timestamp } from "../time/timestamp.ts";
import type { Clock } from "../clock/clock.ts";
import type { ReferenceUpdate } from "../clock/sample.ts";
import { type RxFrame, stampedFrame } from "../clock/hwclock.ts";
import type { Logger } from "./log.ts";
import { realNow } from "../io/realtime.ts";
import { poller } from "../io/poller.ts";

/** Seconds a per-request socket waits for its reply at most (replies delayed longer are lost). */
export const REQUEST_SOCKET_TIMEOUT = 16;

/** One request's own socket. */
interface RequestSocket {
  sock: UdpSocket;
  /** The kernel TX timestamp was asked for and has not arrived yet. */
  txPending: boolean;
  /** A valid reply was processed: close once the TX timestamp is in. */
  answered: boolean;
  timer: ReturnType<typeof setTimeout>;
  /** The NIC's TX timestamp was asked for and has not arrived yet. */
  hwTxPending: boolean;
  /** A reply held for the NIC's TX timestamp (`hwtstimeout`), with its cooked RX time. */
  held: { bytes: Uint8Array; at: Timestamp; local: string | null } | null;
  holdTimer: ReturnType<typeof setTimeout> | null;
}

/** A clock whose slewing layer wants `tick()` calls (SlewingClock and its kin). */
export interface TickingClock extends Clock {
  tick(): Timestamp | null;
}

/** Options of {@link ClientIo}. */
export interface ClientIoOptions {
  engine: Engine;
  clock: TickingClock;
  log: Logger;
  /** chrony's acquisitionport: one shared socket bound to it; 0 or absent: a socket per request. */
  port?: number;
  /** Local addresses for requests per family (`bindacqaddress`). */
  bindAddress?: { ipv4?: string; ipv6?: string };
  /** Interface for requests (`bindacqdevice`). */
  device?: string;
  /** Called after each reference update (one-shot modes stop there). */
  onUpdate?: (update: ReferenceUpdate) => void;
  /** IP_TOS of the client sockets (`dscp` << 2); absent or 0: the default. */
  tos?: number;
  /** Called when a source is lost (pool replacement). */
  onSourceLost?: (source: number, reason: string) => void;
  /** `hwtimestamp` interfaces: NIC stamps converted to system time (lib/daemon/hwtimestamp.ts). */
  hw?: HwStampConverter | null;
  /** `ptpport`: requests to sources on this port go NTP-over-PTP through it. */
  ptp?: { port: number; channel: PtpPort } | null;
  /**
   * `hwtstimeout` (chrony 4.4+), seconds: with `hwtimestamp`, a reply arriving
   * before its request's NIC TX stamp is held up to this long for it. Default 0.001.
   */
  hwTsTimeout?: number;
}

/** The part of `HwTimestamping` the client uses. */
export interface HwStampConverter {
  readonly interfaces: readonly unknown[];
  convertRx(ifindex: number, raw: Timestamp, frame?: RxFrame): { time: Timestamp } | null;
  convertTx(ifindex: number, raw: Timestamp): { time: Timestamp } | null;
}

/**
 * The RX time of a datagram (system time): its NIC stamp converted by the
 * interface's clock tracking when there is one (moved to the end of the
 * `frame` when given), else the kernel's `rx`.
 */
export function pickRxTime(
  hw: HwStampConverter | null,
  ifindex: number,
  rx: Timestamp,
  hwRx: Timestamp | null,
  frame?: RxFrame,
): { time: Timestamp; hardware: boolean } {
  const c = hwRx !== null && hw ? hw.convertRx(ifindex, hwRx, frame) : null;
  return c ? { time: c.time, hardware: true } : { time: rx, hardware: false };
}

/**
 * The client IO running each engine, for measurements.log's stamp sources
 * (its sample logger is made before the IO; it finds the IO here).
 */
export const CLIENT_IO_OF = new WeakMap<Engine, ClientIo>();

/**
 * measurements.log's TX and RX stamp sources of source `id`'s sample: what
 * `ntpdata` shows (hardware with `hwtimestamp`), kernel without a client IO.
 */
export function measurementSources(
  io: Pick<ClientIo, "timestampSources"> | null,
  id: number,
): { txSource: "kernel" | "hardware"; rxSource: "kernel" | "hardware" } {
  const t = io?.timestampSources(id);
  return {
    txSource: t?.tx === "H" ? "hardware" : "kernel",
    rxSource: t?.rx === "H" ? "hardware" : "kernel",
  };
}

/** Where a source's last stamps came from (`ntpdata`): K kernel, H hardware; counts of H. */
export interface TimestampSources {
  tx: "K" | "H";
  rx: "K" | "H";
  hwTx: number;
  hwRx: number;
}

/** Runs the engine on real sockets and timers. */
export class ClientIo {
  readonly engine: Engine;
  readonly #clock: TickingClock;
  readonly #log: Logger;
  readonly #port: number;
  readonly #bind: { ipv4?: string; ipv6?: string };
  readonly #device: string | undefined;
  readonly #tos: number;
  readonly #onUpdate: ((u: ReferenceUpdate) => void) | undefined;
  readonly #onSourceLost: ((s: number, r: string) => void) | undefined;
  readonly #hw: HwStampConverter | null;
  readonly #hwTsTimeout: number;
  readonly #ptp: { port: number; channel: PtpPort } | null;
  /** PTP port send id -> source id, for TX stamps. */
  readonly #ptpSends = new Map<number, number>();
  readonly #tss = new Map<number, TimestampSources>();
  readonly #sockets = new Map<"ipv4" | "ipv6", UdpSocket>();
  /** source id -> the socket of its outstanding request (per-request mode). */
  readonly #requests = new Map<number, RequestSocket>();
  /** "address|port" -> source id. */
  readonly #byPeer = new Map<string, number>();
  /** Source id -> local address its last reply arrived at (IP_PKTINFO), for `ntpdata`. */
  readonly #localOf = new Map<number, string>();
  /** sendId -> source id, for TX timestamps. */
  readonly #sends = new Map<number, number>();
  #timer: ReturnType<typeof setTimeout> | null = null;
  #tickTimer: ReturnType<typeof setTimeout> | null = null;
  #closed = false;
  /** Releases the poller hold taken at the first per-request socket. */
  #releasePoller: (() => void) | null = null;
  /** Datagrams from unknown peers or failing to send, counted (never fatal). */
  stray = 0;
  sendErrors = 0;
  /** Per-request sockets opened so far. */
  requestSockets = 0;
  /** Replies held for their request's NIC TX stamp (`hwtstimeout`). */
  heldReplies = 0;

  constructor(options: ClientIoOptions) {
    this.engine = options.engine;
    CLIENT_IO_OF.set(this.engine, this);
    this.#clock = options.clock;
    this.#log = options.log;
    this.#port = options.port ?? 0;
    this.#bind = options.bindAddress ?? {};
    this.#device = options.device;
    this.#onUpdate = options.onUpdate;
    this.#tos = options.tos ?? 0;
    this.#onSourceLost = options.onSourceLost;
    this.#hw = options.hw && options.hw.interfaces.length > 0 ? options.hw : null;
    this.#hwTsTimeout = options.hwTsTimeout ?? 0.001; // chrony.conf(5) 4.4+: default 0.001 s
    this.#ptp = options.ptp ?? null;
    const ptp = this.#ptp?.channel;
    ptp?.onReply((ntp, from, rx, local, hwRx, udpLength, correction) =>
      this.#receive(ntp, from, rx, local, hwRx, udpLength, correction)
    );
    ptp?.onTxTimestamp((sendId, tx) => {
      const id = this.#ptpSends.get(sendId);
      if (!ptp.hwTimestamping) this.#ptpSends.delete(sendId);
      if (id !== undefined) this.engine.onTxTimestamp(id, this.#cooked(tx));
    }, (sendId, raw, ifindex) => {
      const id = this.#ptpSends.get(sendId);
      this.#ptpSends.delete(sendId);
      if (id !== undefined) this.#hwTx(id, raw, ifindex);
    });
  }

  /** Where source `id`'s last TX and RX stamps came from, and how many were the NIC's. */
  timestampSources(id: number): TimestampSources {
    return this.#tss.get(id) ?? { tx: "K", rx: "K", hwTx: 0, hwRx: 0 };
  }

  #stamps(id: number): TimestampSources {
    let t = this.#tss.get(id);
    if (!t) this.#tss.set(id, t = { tx: "K", rx: "K", hwTx: 0, hwRx: 0 });
    return t;
  }

  /**
   * The RX time of a reply to `source`: the NIC's stamp in system time when
   * there is one the interface's clock tracking converts, else the kernel's.
   */
  #rxTime(
    source: number,
    rx: Timestamp,
    hwRx: Timestamp | null,
    local: LocalInfo,
    udpLength: number,
    from: SockAddr,
  ): Timestamp {
    const s = stampedFrame(local, udpLength, from.family === "ipv4" ? 4 : 6);
    const r = pickRxTime(this.#hw, s.ifindex, rx, hwRx, s.frame);
    const t = this.#stamps(source);
    t.rx = r.hardware ? "H" : "K";
    if (r.hardware) t.hwRx++;
    return r.time;
  }

  /** A NIC TX stamp of the last request to `source`, converted; true when used. */
  #hwTx(source: number, raw: Timestamp, ifindex: number): boolean {
    const c = this.#hw?.convertTx(ifindex, raw) ?? null;
    if (c === null) return false;
    const t = this.#stamps(source);
    t.tx = "H";
    t.hwTx++;
    this.engine.onTxTimestamp(source, this.#cooked(c.time));
    return true;
  }

  /** Carries out actions returned by the engine. */
  run(actions: readonly EngineAction[]): void {
    if (this.#closed) return;
    for (const a of actions) {
      switch (a.kind) {
        case "send":
          this.#send(a.source, a.address, a.port, a.bytes);
          break;
        case "timer":
          this.#arm(a.at);
          break;
        case "log":
          if (a.level === "info") this.#log.info(a.message);
          else this.#log.warn(a.message);
          break;
        case "update":
          this.#onUpdate?.(a.update);
          break;
        case "source-lost":
          this.#onSourceLost?.(a.source, a.reason);
          break;
      }
    }
    this.#armTick();
  }

  /** The local address the last reply of `source` arrived at, or null before any. */
  localAddress(source: number): string | null {
    return this.#localOf.get(source) ?? null;
  }

  /** Closes sockets and timers. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    if (this.#tickTimer !== null) clearTimeout(this.#tickTimer);
    this.#timer = this.#tickTimer = null;
    const socks = [...this.#sockets.values()];
    this.#sockets.clear();
    for (const r of this.#requests.values()) {
      clearTimeout(r.timer);
      socks.push(r.sock);
    }
    this.#requests.clear();
    this.#releasePoller?.();
    this.#releasePoller = null;
    await Promise.all(socks.map((s) => s.close()));
  }

  /**
   * Converts a kernel timestamp (CLOCK_REALTIME) to the cooked local clock.
   * The clock's own raw time may differ from the system's (the read-only
   * clock of `-x` runs a virtual copy), so the difference is taken against
   * the system clock, read at the same moment.
   */
  #cooked(system: Timestamp): Timestamp {
    // clock.now() reads the real clock itself: the real time it stands for is the middle
    // of two reads around it (one read after it biased every timestamp by an FFI call).
    const r1 = realNow();
    const c = this.#clock.now();
    const r2 = realNow();
    return system + (c - (r1 + r2) / 2n);
  }

  #socket(family: "ipv4" | "ipv6"): UdpSocket {
    let s = this.#sockets.get(family);
    if (s) return s;
    const address = this.#bind[family];
    s = UdpSocket.open({
      family,
      port: this.#port,
      timestamping: true,
      hwTimestamping: this.#hw !== null,
      tos: this.#tos,
      ...(address ? { address } : {}),
      ...(this.#device ? { device: this.#device } : {}),
    });
    s.onPacket((bytes, from, rx, local, _k, hwRx) => this.#receive(bytes, from, rx, local, hwRx));
    s.onTxTimestamp((sendId, tx) => {
      const id = this.#sends.get(sendId);
      if (!s.hwTimestamping) this.#sends.delete(sendId);
      if (id !== undefined) {
        this.#stamps(id).tx = "K";
        this.engine.onTxTimestamp(id, this.#cooked(tx));
      }
    });
    s.onHwTxTimestamp((sendId, raw, ifindex) => {
      const id = this.#sends.get(sendId);
      this.#sends.delete(sendId);
      if (id !== undefined) this.#hwTx(id, raw, ifindex);
    });
    this.#sockets.set(family, s);
    return s;
  }

  /** Open per-request sockets (for tests and the soak bench). */
  get openRequestSockets(): number {
    return this.#requests.size;
  }

  #send(source: number, address: string, port: number, bytes: Uint8Array): void {
    const family = address.includes(":") ? "ipv6" : "ipv4";
    if (this.#ptp !== null && port === this.#ptp.port) {
      // NTP-over-PTP: from the PTP port, replies come back to it
      this.#byPeer.set(`${address}|${port}`, source);
      let id: number | null = null;
      try {
        id = this.#ptp.channel.send(bytes, { family, address, port });
      } catch (e) {
        this.#log.debug(`Could not send to ${address}:${port} : ${(e as Error).message}`);
      }
      if (id !== null) {
        this.engine.onTxTimestamp(source, this.#clock.now());
        this.#ptpSends.set(id, source);
        if (this.#ptpSends.size > 4096) this.#ptpSends.delete(this.#ptpSends.keys().next().value!);
        return;
      }
      this.sendErrors++;
      queueMicrotask(() => this.run(this.engine.onSendError(source)));
      return;
    }
    const shared = this.#port !== 0 || this.engine.sourceHandle(source)?.peer === true;
    if (shared) this.#byPeer.set(`${address}|${port}`, source);
    this.#closeRequest(source); // its reply is too late now: the source moved on
    try {
      const to = { family, address, port } as const;
      const sock = shared ? this.#socket(family) : this.#openRequest(source, to);
      const id = sock.send(bytes, to, { txTimestamp: true });
      // Until the kernel's TX timestamp arrives (it may come after the reply),
      // the time right after sendmsg stands for T1: closer than the time the
      // request was built at.
      if (id !== null) this.engine.onTxTimestamp(source, this.#clock.now());
      if (id !== null && !shared) {
        const r = this.#requests.get(source);
        if (r) {
          r.txPending = sock.timestamping;
          r.hwTxPending = sock.timestamping && sock.hwTimestamping;
        }
        return;
      }
      if (id !== null) {
        this.#sends.set(id, source);
        if (this.#sends.size > 4096) this.#sends.delete(this.#sends.keys().next().value!);
        return;
      }
    } catch (e) {
      this.#log.debug(`Could not send to ${address}:${port} : ${(e as Error).message}`);
    }
    this.sendErrors++;
    // Not from inside run(): the engine is mid-action; carry out its answer next.
    queueMicrotask(() => this.run(this.engine.onSendError(source)));
  }

  /** A new socket for one request to `to`, connected to it. */
  #openRequest(source: number, to: SockAddr): UdpSocket {
    const address = this.#bind[to.family];
    const sock = UdpSocket.open({
      family: to.family,
      port: 0,
      timestamping: true,
      hwTimestamping: this.#hw !== null,
      batch: 4,
      tos: this.#tos,
      ...(address ? { address } : {}),
      ...(this.#device ? { device: this.#device } : {}),
    });
    try {
      sock.connect(to);
    } catch (e) {
      sock.close();
      throw e;
    }
    this.requestSockets++;
    // One worker-thread poll() stays parked between requests (not a new thread per request).
    this.#releasePoller ??= poller.hold();
    const timer = setTimeout(() => this.#closeRequest(source, r), REQUEST_SOCKET_TIMEOUT * 1000);
    Deno.unrefTimer(timer);
    const r: RequestSocket = {
      sock,
      txPending: false,
      answered: false,
      timer,
      hwTxPending: false,
      held: null,
      holdTimer: null,
    };
    this.#requests.set(source, r);
    const process = (bytes: Uint8Array, at: Timestamp, local: string | null) => {
      if (local) this.#localOf.set(source, local);
      const handle = this.engine.sourceHandle(source);
      const valid = handle ? handle.validReplies() : 0;
      this.run(this.engine.onPacket(source, bytes, at));
      if (handle && handle.validReplies() !== valid) {
        r.answered = true;
        if (!r.txPending) this.#closeRequest(source, r);
      }
    };
    /** Processes the reply held for the NIC's TX stamp, if any. */
    const release = () => {
      const h = r.held;
      if (h === null) return;
      r.held = null;
      if (r.holdTimer !== null) clearTimeout(r.holdTimer);
      r.holdTimer = null;
      if (this.#requests.get(source) === r) process(h.bytes, h.at, h.local);
    };
    sock.onPacket((bytes, from, rx, local, _k, hwRx) => {
      if (this.#requests.get(source) !== r) return; // closed meanwhile
      const at = this.#cooked(this.#rxTime(source, rx, hwRx, local, bytes.length, from));
      const copy = bytes.slice();
      if (r.hwTxPending && this.#hwTsTimeout > 0) {
        if (r.held === null) {
          // hwtstimeout: the reply came before the NIC's TX stamp of the request: wait for it
          r.held = { bytes: copy, at, local: local.address ?? null };
          r.holdTimer = setTimeout(release, Math.ceil(this.#hwTsTimeout * 1000));
          this.heldReplies++;
          return;
        }
        release(); // a second reply while waiting: both now
      }
      process(copy, at, local.address ?? null);
    });
    sock.onTxTimestamp((_id, tx) => {
      if (this.#requests.get(source) !== r) return;
      // with a NIC, wait for its stamp too (the socket's timeout bounds the wait)
      r.txPending = sock.hwTimestamping;
      this.#stamps(source).tx = "K";
      this.engine.onTxTimestamp(source, this.#cooked(tx));
      if (r.answered && !r.txPending) this.#closeRequest(source, r);
    });
    sock.onHwTxTimestamp((_id, raw, ifindex) => {
      if (this.#requests.get(source) !== r) return;
      r.txPending = false;
      r.hwTxPending = false;
      this.#hwTx(source, raw, ifindex);
      release();
      if (r.answered) this.#closeRequest(source, r);
    });
    return sock;
  }

  /** Closes the request socket of `source` (only `which` when given). */
  #closeRequest(source: number, which?: RequestSocket): void {
    const r = this.#requests.get(source);
    if (!r || (which && r !== which)) return;
    this.#requests.delete(source);
    clearTimeout(r.timer);
    if (r.holdTimer !== null) clearTimeout(r.holdTimer);
    r.sock.close();
  }

  #receive(
    bytes: Uint8Array,
    from: SockAddr,
    rx: Timestamp,
    local: LocalInfo,
    hwRx: Timestamp | null,
    udpLength = bytes.length,
    ptpCorrection: number | null = null,
  ): void {
    const id = this.#byPeer.get(`${from.address}|${from.port}`);
    if (id === undefined) {
      this.stray++;
      return;
    }
    if (local.address) this.#localOf.set(id, local.address);
    const at = this.#rxTime(id, rx, hwRx, local, udpLength, from);
    // F324: transparent clocks' corrections only with a NIC RX stamp (chrony.conf(5))
    const ptp = ptpCorrection !== null && this.#stamps(id).rx === "H"
      ? { correction: ptpCorrection }
      : undefined;
    this.run(this.engine.onPacket(id, bytes.slice(), this.#cooked(at), ptp));
  }

  #arm(at: Timestamp | null): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    if (at === null) return;
    const ms = Math.max(0, Number(at - this.#clock.now()) / 1e6);
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.run(this.engine.onTimer());
    }, Math.ceil(ms));
  }

  #armTick(): void {
    if (this.#tickTimer !== null) clearTimeout(this.#tickTimer);
    this.#tickTimer = null;
    const at = this.#clock.tick();
    if (at === null || this.#closed) return;
    const ms = Math.max(0, Number(at - this.#clock.rawNow()) / 1e6);
    this.#tickTimer = setTimeout(() => {
      this.#tickTimer = null;
      this.#armTick();
    }, Math.ceil(ms));
  }
}
