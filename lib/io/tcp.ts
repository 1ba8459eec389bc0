/**
 * TCP listeners on libc (via `ffi/`), for servers that must bind as chronyd
 * does, which `Deno.listen` cannot: IPv6 listeners are IPV6_V6ONLY (so `::`
 * and `0.0.0.0` on the same port coexist, as two separate sockets) and
 * addresses are bound with IP_FREEBIND / IPV6_FREEBIND (an address not yet on
 * any interface). Accepted connections are non-blocking descriptors; reads
 * wait for readiness on the process-wide {@link poller}; writes use
 * MSG_NOSIGNAL and, when the send buffer is full, retry after a short pause
 * (replies here are a few kilobytes, so that is rare).
 *
 * @example
 * ```ts
 * import { TcpListener } from "./tcp.ts";
 * const l = TcpListener.open({ family: "ipv6", address: "::", port: 14460 });
 * const conn = await l.accept(); // null once the listener is closed
 * l.close();
 * // or, without a promise per connection: each ready connection is handed over at once
 * const m = TcpListener.open({ family: "ipv4", address: "127.0.0.1", port: 14461 });
 * m.serve((fd, _peer) => closeStream(fd));
 * m.close();
 * ```
 * @module
 */

import {
  accept,
  addressFamily,
  bind,
  bindToDevice,
  close,
  encodeSockaddr,
  ErrnoError,
  type Family,
  getsockname,
  listen,
  readRaw,
  sendRaw,
  setFreebind,
  setsockoptInt,
  type SockAddr,
  socket,
} from "../../ffi/libc.ts";
import { ERRNO, L, MSG_NOSIGNAL } from "../../ffi/layout.ts";
import { takeInheritedSocket } from "./inherited_sockets.ts";
import { poller } from "./poller.ts";

/** Options of {@link TcpListener.open}. */
export interface TcpListenOptions {
  /** Address family. */
  family: Family;
  /** Local address (default the wildcard of the family). */
  address?: string;
  /** Port (0: the kernel picks one). */
  port: number;
  /** listen(2) backlog (default 100). */
  backlog?: number;
  /** IP_FREEBIND / IPV6_FREEBIND (default true). */
  freebind?: boolean;
  /** SO_BINDTODEVICE interface (`binddevice`). */
  device?: string;
}

/** Pause before retrying a write the kernel could not take yet, milliseconds. */
const WRITE_RETRY_MS = 5;
/** Pause after an accept error that is not the connection's fault (EMFILE...), milliseconds. */
const ACCEPT_RETRY_MS = 100;
/** accept(2) errors that concern only the connection being accepted. */
const ACCEPT_SKIP: ReadonlySet<number> = new Set([
  ERRNO.EINTR,
  103, // ECONNABORTED
  71, // EPROTO
  ERRNO.ECONNRESET,
]);

/**
 * Readiness of one descriptor on the {@link poller}, registered once (at the
 * first wait) and kept while its owner keeps reading: registering and
 * unregistering around every wait wakes the worker-thread poll() twice more
 * per read (an NTS-KE session waits three or four times). poll() is
 * level-triggered, so a readiness nobody waits for (bytes the owner will read
 * next, or does not read at all) would return at once again: after two such
 * in a row the descriptor is unregistered until the next wait.
 */
class ReadyWatch {
  #registered = false;
  #waiter: (() => void) | null = null;
  #idle = 0;
  readonly #onReadable = () => {
    const w = this.#waiter;
    if (w !== null) {
      this.#waiter = null;
      this.#idle = 0;
      w();
    } else if (++this.#idle >= 2) {
      this.#registered = false;
      poller.unregister(this.fd);
    }
  };

  constructor(readonly fd: number) {}

  /** Resolves when the descriptor is readable (or hung up), or on {@linkcode stop}. */
  wait(): Promise<void> {
    if (!this.#registered) {
      this.#registered = true;
      this.#idle = 0;
      poller.register(this.fd, this.#onReadable);
    }
    return new Promise<void>((r) => (this.#waiter = r));
  }

  /** Stops watching (before the descriptor is closed); a pending wait resolves. */
  stop(): void {
    if (this.#registered) {
      this.#registered = false;
      poller.unregister(this.fd);
    }
    const w = this.#waiter;
    this.#waiter = null;
    w?.();
  }
}

/**
 * Closes an accepted stream descriptor (not registered with the poller):
 * input already received is read and dropped first, so the peer sees an
 * orderly close (FIN), not the reset the kernel sends when unread data is
 * discarded.
 */
export function closeStream(fd: number): void {
  for (let i = 0; i < 16 && readRaw(fd, closeSink) > 0; i++) { /* drop */ }
  close(fd);
}
const closeSink = new Uint8Array(4096);

/** A listening TCP socket; see the module documentation. */
export class TcpListener {
  /** The listening descriptor. */
  readonly fd: number;
  #closed = false;
  readonly #watch: ReadyWatch;
  /** {@linkcode serve}'s callbacks while it serves. */
  #serving: { onConnection(fd: number, peer: SockAddr): void; onBatch?: () => void } | null = null;

  private constructor(fd: number) {
    this.fd = fd;
    this.#watch = new ReadyWatch(fd);
  }

  /** Opens, binds and listens; throws ErrnoError (`EADDRINUSE`, ...) or RangeError. */
  static open(options: TcpListenOptions): TcpListener {
    const { family } = options;
    const address = options.address ?? (family === "ipv4" ? "0.0.0.0" : "::");
    if (addressFamily(address) !== family) {
      throw new RangeError(`not an ${family} address: ${address}`);
    }
    // socket activation: a passed socket already bound there (lib/io/inherited_sockets.ts)
    const inherited = takeInheritedSocket(family, "stream", address, options.port);
    const fd = inherited ?? socket(
      family === "ipv4" ? L.AF_INET : L.AF_INET6,
      L.SOCK_STREAM | L.SOCK_NONBLOCK | L.SOCK_CLOEXEC,
      0,
    );
    try {
      setsockoptInt(fd, L.SOL_SOCKET, L.SO_REUSEADDR, 1);
      if (family === "ipv6" && inherited === null) {
        setsockoptInt(fd, L.SOL_IPV6, L.IPV6_V6ONLY, 1);
      }
      if (options.freebind ?? true) setFreebind(fd, family);
      if (options.device !== undefined) bindToDevice(fd, options.device);
      if (inherited === null) bind(fd, encodeSockaddr({ family, address, port: options.port }));
      listen(fd, options.backlog ?? 100);
    } catch (e) {
      close(fd);
      throw e;
    }
    return new TcpListener(fd);
  }

  /** The bound address and port. */
  localAddress(): SockAddr {
    return getsockname(this.fd);
  }

  /** The next connection, or null once the listener is closed. */
  async accept(): Promise<TcpConn | null> {
    while (!this.#closed) {
      const r = accept(this.fd);
      if (typeof r !== "number") {
        const peer = r.peer ?? { family: "ipv4", address: "0.0.0.0", port: 0 };
        return new TcpConn(r.fd, peer);
      }
      if (-r === ERRNO.EAGAIN) {
        await this.#watch.wait();
      } else if (!ACCEPT_SKIP.has(-r)) {
        if (-r === ERRNO.EBADF || -r === ERRNO.EINVAL) return null;
        await new Promise((res) => setTimeout(res, ACCEPT_RETRY_MS));
      }
    }
    return null;
  }

  /**
   * Serves without a promise per connection (instead of {@linkcode accept}):
   * whenever the listener is readable, every pending connection is accepted
   * and passed to `onConnection` (a non-blocking descriptor the callee then
   * owns), then `onBatch` runs once. Until {@linkcode close}.
   */
  serve(onConnection: (fd: number, peer: SockAddr) => void, onBatch?: () => void): void {
    this.#serving = onBatch ? { onConnection, onBatch } : { onConnection };
    poller.register(this.fd, () => this.#acceptAll(), undefined, true);
  }

  #acceptAll(): void {
    const s = this.#serving;
    if (s === null || this.#closed) return;
    try {
      for (;;) {
        const r = accept(this.fd);
        if (typeof r !== "number") {
          s.onConnection(r.fd, r.peer ?? { family: "ipv4", address: "0.0.0.0", port: 0 });
          continue;
        }
        if (-r === ERRNO.EAGAIN || -r === ERRNO.EBADF || -r === ERRNO.EINVAL) return;
        if (!ACCEPT_SKIP.has(-r)) {
          // EMFILE...: the connection stays queued; look again a little later
          poller.unregister(this.fd);
          setTimeout(() => {
            if (!this.#closed) poller.register(this.fd, () => this.#acceptAll(), undefined, true);
          }, ACCEPT_RETRY_MS);
          return;
        }
      }
    } finally {
      s.onBatch?.();
    }
  }

  /** Stops listening; a pending `accept()` resolves with null. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#watch.stop();
    if (this.#serving !== null) {
      this.#serving = null;
      poller.unregister(this.fd);
    }
    close(this.fd);
  }
}

/** An accepted connection (the subset of `Deno.Conn` that horae's TLS needs). */
export class TcpConn {
  /** The connection's descriptor. */
  readonly fd: number;
  /** The peer, in `Deno.NetAddr` form. */
  readonly remoteAddr: Deno.NetAddr;
  #closed = false;
  readonly #watch: ReadyWatch;

  /** Wraps an accepted non-blocking descriptor. */
  constructor(fd: number, peer: SockAddr) {
    this.fd = fd;
    this.#watch = new ReadyWatch(fd);
    this.remoteAddr = { transport: "tcp", hostname: peer.address, port: peer.port };
  }

  /** Reads into `buf`: bytes read, or null at end of stream. Throws once closed. */
  async read(buf: Uint8Array): Promise<number | null> {
    for (;;) {
      if (this.#closed) throw new Deno.errors.BadResource("connection closed");
      const n = readRaw(this.fd, buf);
      if (n > 0) return n;
      if (n === 0) return buf.length === 0 ? 0 : null;
      if (-n === ERRNO.EINTR) continue;
      if (-n !== ERRNO.EAGAIN) throw new ErrnoError("read", -n);
      await this.#watch.wait();
    }
  }

  /** Writes part of `buf`; resolves with the bytes written (at least one). */
  async write(buf: Uint8Array): Promise<number> {
    for (;;) {
      if (this.#closed) throw new Deno.errors.BadResource("connection closed");
      if (buf.length === 0) return 0;
      const n = sendRaw(this.fd, buf, MSG_NOSIGNAL);
      if (n >= 0) return n;
      if (-n === ERRNO.EINTR) continue;
      if (-n !== ERRNO.EAGAIN) throw new ErrnoError("send", -n);
      await new Promise((res) => setTimeout(res, WRITE_RETRY_MS));
    }
  }

  /**
   * Closes the connection; a pending `read()` throws. Input already received
   * is read and dropped first, so the peer sees an orderly close (FIN), not
   * the reset the kernel sends when unread data is discarded.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#watch.stop();
    closeStream(this.fd);
  }
}
