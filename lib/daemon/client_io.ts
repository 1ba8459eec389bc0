/**
 * The IO edge of the NTP client: carries out the {@link Engine}'s actions on
 * real sockets and timers. One UDP socket per address family (bound to the
 * `acquisitionport`, default an ephemeral port) sends every request with a
 * kernel TX timestamp asked for; replies are matched to their source by
 * address and port and handed to the engine with their kernel RX timestamp,
 * converted from raw to cooked time. It also ticks the clock's slewing layer
 * when it asks to be.
 *
 * @example
 * ```ts
 * import { ClientIo } from "./client_io.ts";
 * declare const io: ClientIo;
 * io.run(io.engine.start());
 * ```
 * @module
 */
import { type SockAddr, UdpSocket } from "../io/udp.ts";
import type { Engine, EngineAction } from "./engine.ts";
import type { Timestamp } from "../time/timestamp.ts";
import type { Clock } from "../clock/clock.ts";
import type { ReferenceUpdate } from "../clock/sample.ts";
import type { Logger } from "./log.ts";
import { realNow } from "../io/realtime.ts";

/** A clock whose slewing layer wants `tick()` calls (SlewingClock and its kin). */
export interface TickingClock extends Clock {
  tick(): Timestamp | null;
}

/** Options of {@link ClientIo}. */
export interface ClientIoOptions {
  engine: Engine;
  clock: TickingClock;
  log: Logger;
  /** Local port for requests (chrony's acquisitionport; 0: ephemeral). */
  port?: number;
  /** Local addresses for requests per family (`bindacqaddress`). */
  bindAddress?: { ipv4?: string; ipv6?: string };
  /** Interface for requests (`bindacqdevice`). */
  device?: string;
  /** Called after each reference update (one-shot modes stop there). */
  onUpdate?: (update: ReferenceUpdate) => void;
  /** Called when a source is lost (pool replacement). */
  onSourceLost?: (source: number, reason: string) => void;
}

/** Runs the engine on real sockets and timers. */
export class ClientIo {
  readonly engine: Engine;
  readonly #clock: TickingClock;
  readonly #log: Logger;
  readonly #port: number;
  readonly #bind: { ipv4?: string; ipv6?: string };
  readonly #device: string | undefined;
  readonly #onUpdate: ((u: ReferenceUpdate) => void) | undefined;
  readonly #onSourceLost: ((s: number, r: string) => void) | undefined;
  readonly #sockets = new Map<"ipv4" | "ipv6", UdpSocket>();
  /** "address|port" -> source id. */
  readonly #byPeer = new Map<string, number>();
  /** Source id -> local address its last reply arrived at (IP_PKTINFO), for `ntpdata`. */
  readonly #localOf = new Map<number, string>();
  /** sendId -> source id, for TX timestamps. */
  readonly #sends = new Map<number, number>();
  #timer: ReturnType<typeof setTimeout> | null = null;
  #tickTimer: ReturnType<typeof setTimeout> | null = null;
  #closed = false;
  /** Datagrams from unknown peers or failing to send, counted (never fatal). */
  stray = 0;
  sendErrors = 0;

  constructor(options: ClientIoOptions) {
    this.engine = options.engine;
    this.#clock = options.clock;
    this.#log = options.log;
    this.#port = options.port ?? 0;
    this.#bind = options.bindAddress ?? {};
    this.#device = options.device;
    this.#onUpdate = options.onUpdate;
    this.#onSourceLost = options.onSourceLost;
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
    await Promise.all(socks.map((s) => s.close()));
  }

  /**
   * Converts a kernel timestamp (CLOCK_REALTIME) to the cooked local clock.
   * The clock's own raw time may differ from the system's (the read-only
   * clock of `-x` runs a virtual copy), so the difference is taken against
   * the system clock, read at the same moment.
   */
  #cooked(system: Timestamp): Timestamp {
    return system + (this.#clock.now() - realNow());
  }

  #socket(family: "ipv4" | "ipv6"): UdpSocket {
    let s = this.#sockets.get(family);
    if (s) return s;
    const address = this.#bind[family];
    s = UdpSocket.open({
      family,
      port: this.#port,
      timestamping: true,
      ...(address ? { address } : {}),
      ...(this.#device ? { device: this.#device } : {}),
    });
    s.onPacket((bytes, from, rx, local) => this.#receive(bytes, from, rx, local.address));
    s.onTxTimestamp((sendId, tx) => {
      const id = this.#sends.get(sendId);
      this.#sends.delete(sendId);
      if (id !== undefined) this.engine.onTxTimestamp(id, this.#cooked(tx));
    });
    this.#sockets.set(family, s);
    return s;
  }

  #send(source: number, address: string, port: number, bytes: Uint8Array): void {
    const family = address.includes(":") ? "ipv6" : "ipv4";
    this.#byPeer.set(`${address}|${port}`, source);
    try {
      const sock = this.#socket(family);
      const id = sock.send(bytes, { family, address, port }, { txTimestamp: true });
      // Until the kernel's TX timestamp arrives (it may come after the reply),
      // the time right after sendmsg stands for T1: closer than the time the
      // request was built at.
      if (id !== null) this.engine.onTxTimestamp(source, this.#clock.now());
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

  #receive(bytes: Uint8Array, from: SockAddr, rx: Timestamp, local?: string | null): void {
    const id = this.#byPeer.get(`${from.address}|${from.port}`);
    if (id === undefined) {
      this.stray++;
      return;
    }
    if (local) this.#localOf.set(id, local);
    this.run(this.engine.onPacket(id, bytes.slice(), this.#cooked(rx)));
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
