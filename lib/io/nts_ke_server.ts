/**
 * NTS-KE server (RFC 8915 §4): listens on TCP (one socket per address, as
 * chronyd binds them: `tcp.ts`), does TLS 1.3 with ALPN
 * "ntske/1" (several certificate/key pairs chosen by SNI), reads the client's
 * request, negotiates NTPv4 + AES-SIV-CMAC-256, exports the client's keys and
 * answers with 8 cookies sealed by the {@linkcode ServerKeyRing}. As strict as
 * chronyd 4.3 (tests/interop/nts_ke_diff_test.ts compares them): a client
 * without ALPN "ntske/1", a request whose last record is not a critical empty
 * End of Message, or one over 16384 bytes is closed without an answer; a
 * request still incomplete (data after End of Message, a truncated record)
 * when the session time (2 s, as chronyd) runs out is closed; faulty records
 * get an Error record (see `parseClientRequest`). At most
 * `maxConnections` (chrony's `maxntsconnections`, default 100) at once; more
 * are closed at once.
 *
 * @example
 * ```ts
 * import { NtsKeServer } from "./nts_ke_server.ts";
 * import { ServerKeyRing } from "../nts/cookie.ts";
 * const ring = ServerKeyRing.fresh(crypto.getRandomValues(new Uint8Array(144)), 0n, 604800);
 * const srv = NtsKeServer.start({ port: 14460, pairs: [{ certFile: "c.pem", keyFile: "k.pem" }], keyRing: ring });
 * await srv.close();
 * ```
 * @module
 */

import { type CertKeyPair, TlsContext, TlsError, type TlsSession } from "../../ffi/libssl.ts";
import { COOKIE_NONCE_LENGTH, MAX_COOKIES, type ServerKeyRing } from "../nts/cookie.ts";
import {
  buildErrorResponse,
  buildRefusalResponse,
  buildServerResponse,
  completeRequestLength,
  exporterContext,
  KeErrorCode,
  negotiate,
  NTS_EXPORTER_LABEL,
  NTS_KE_ALPN,
  NtsKeError,
  parseClientRequest,
} from "../nts/ke_records.ts";
import { AEAD_AES_SIV_CMAC_256, aeadById } from "../nts/siv.ts";
import { isOsError } from "./os_error.ts";
import { closeStream, TcpConn, TcpListener } from "./tcp.ts";
import { poller } from "./poller.ts";
import {
  addressFamily,
  close as closeFd,
  epollCreate,
  epollReady,
  epollWatch,
  ErrnoError,
  setsockoptInt,
  type SockAddr,
} from "../../ffi/libc.ts";

/** Default `maxntsconnections`. chrony.conf(5). */
export const DEFAULT_MAX_NTS_CONNECTIONS = 100;
/** Time allowed for one NTS-KE session, milliseconds (chronyd closes an unfinished one after 2 s). */
const SESSION_TIMEOUT_MS = 2000;
/** NTP's port. RFC 5905 §7.2. */
const NTP_PORT = 123;

/** Options of the NTS-KE server. */
export interface NtsKeServerOptions {
  /** Address to listen on, default "127.0.0.1" (ignored when `hostnames` is given). */
  hostname?: string;
  /**
   * Addresses to listen on, one TCP socket each on the same port (chronyd
   * opens one per family: `0.0.0.0` and `::`, or the `bindaddress`es).
   * Listeners are IPV6_V6ONLY and bound with IP_FREEBIND (see `tcp.ts`).
   */
  hostnames?: readonly string[];
  /** TCP port (`ntsport`), 0 for any free port. */
  port: number;
  /** `binddevice`: the interface the listeners are bound to. */
  device?: string;
  /** `ntsservercert`/`ntsserverkey` pairs. */
  pairs: readonly CertKeyPair[];
  /** Keys that seal cookies (shared with the NTP server side). */
  keyRing: ServerKeyRing;
  /** `ntsaeads`: AEAD ids the server accepts (it takes the client's first). Default [15]. */
  aeads?: readonly number[];
  /** `maxntsconnections`. */
  maxConnections?: number;
  /** `ntsntpserver`: NTP server name to give clients (none by default). */
  ntpServer?: string;
  /** NTP port to give clients when it is not 123. */
  ntpPort?: number;
  /** Session time limit, milliseconds. */
  timeoutMs?: number;
  /** Random bytes source, default `crypto.getRandomValues`. */
  random?: (length: number) => Uint8Array;
  /**
   * Asked for each accepted connection (client log, `ntsratelimit`): false
   * closes it at once (counted as dropped).
   */
  admit?: (remote: Deno.NetAddr) => boolean;
  /** Called with each failed session's error (for the daemon's log). */
  onError?: (error: unknown) => void;
  /**
   * Given, a certificate or key that cannot be loaded (TlsError "config") is
   * passed here and the server listens anyway, closing every connection
   * without a handshake, as chronyd 4.3 does ("Could not set credentials");
   * without it, `start` throws.
   */
  onCredentialsError?: (error: TlsError) => void;
  /**
   * Helpers (chrony's `ntsprocesses`): given, each admitted connection is
   * offered to `take` (the daemon's worker pool, lib/daemon/nts_ke_helpers.ts)
   * and served there; false (no helper can take it) drops it.
   */
  handoff?: {
    take(fd: number): boolean;
    /** False once every helper has died: connections are served here again. */
    readonly alive: boolean;
  };
}

/** Counters of the NTS-KE server. */
export interface NtsKeServerStats {
  /** Sessions that got cookies. */
  served: number;
  /** Sessions closed because `maxConnections` were busy. */
  dropped: number;
  /** Sessions that failed (TLS, bad request, timeout). */
  failed: number;
}

/** Without credentials: how long a connection may take to send its hello, ms. */
const REFUSE_WAIT_MS = 2000;

/** A running NTS-KE server. */
export class NtsKeServer {
  readonly stats: NtsKeServerStats = { served: 0, dropped: 0, failed: 0 };
  private readonly sessions: NtsKeSessions;
  private readonly count = (r: SessionResult) => {
    if (r !== null) this.stats[r]++;
  };

  private constructor(
    private readonly listeners: readonly TcpListener[],
    private readonly ctx: TlsContext | null,
    private readonly options: NtsKeServerOptions,
  ) {
    this.sessions = new NtsKeSessions(options);
    // the sessions' epoll set joins the poller now, not from inside one of its callbacks
    if (ctx !== null) void this.sessions.epollFd;
    for (const l of listeners) l.serve((fd, peer) => this.accepted(fd, peer));
  }

  /**
   * Starts listening. Throws TlsError("config"), NtsUnavailableError,
   * ErrnoError or RangeError; an address that cannot be bound is reported to
   * `onError` and skipped while another one listens (throws when none does).
   */
  static start(options: NtsKeServerOptions): NtsKeServer {
    let ctx: TlsContext | null = null;
    try {
      ctx = TlsContext.server({ pairs: options.pairs, alpn: [NTS_KE_ALPN] });
    } catch (e) {
      if (!(e instanceof TlsError && e.kind === "config" && options.onCredentialsError)) throw e;
      options.onCredentialsError(e);
    }
    const listeners: TcpListener[] = [];
    try {
      let port = options.port;
      let first: unknown = null;
      for (const address of options.hostnames ?? [options.hostname ?? "127.0.0.1"]) {
        const family = addressFamily(address);
        try {
          if (family === null) throw new RangeError(`not an IP address: ${address}`);
          const l = TcpListener.open({
            family,
            address,
            port,
            backlog: options.maxConnections ?? DEFAULT_MAX_NTS_CONNECTIONS,
            ...(options.device !== undefined ? { device: options.device } : {}),
          });
          listeners.push(l);
          port = l.localAddress().port; // with port 0, every family on the same port
        } catch (e) {
          first ??= e;
          options.onError?.(e);
        }
      }
      if (listeners.length === 0) throw first ?? new RangeError("no address to listen on");
      return new NtsKeServer(listeners, ctx, options);
    } catch (e) {
      for (const l of listeners) l.close();
      ctx?.free();
      throw e;
    }
  }

  /** The TCP port listened on. */
  get port(): number {
    return this.listeners[0]!.localAddress().port;
  }

  /** A connection the listener accepted (its descriptor is ours now). */
  private accepted(fd: number, peer: SockAddr): void {
    const max = this.options.maxConnections ?? DEFAULT_MAX_NTS_CONNECTIONS;
    if (
      this.sessions.size >= max ||
      this.options.admit?.({ transport: "tcp", hostname: peer.address, port: peer.port }) === false
    ) {
      this.stats.dropped++;
      closeStream(fd);
      return;
    }
    if (this.ctx !== null && this.options.handoff?.alive) {
      if (!this.options.handoff.take(fd)) {
        this.stats.dropped++;
        closeStream(fd);
      }
      return;
    }
    if (this.ctx === null) {
      // no credentials: the client's hello is read and the connection closed without an
      // answer (its handshake ends early, as with chronyd 4.3)
      this.stats.failed++;
      // (its read registers with the poller: not from inside the poller's callback)
      queueMicrotask(() => void this.refuse(new TcpConn(fd, peer)));
      return;
    }
    this.sessions.serveSocket(this.ctx, fd, this.count);
  }

  private async refuse(conn: TcpConn): Promise<void> {
    const timer = setTimeout(() => conn.close(), REFUSE_WAIT_MS);
    try {
      await conn.read(new Uint8Array(16_384));
    } catch (e) {
      if (!isOsError(e)) throw e; // closed (by the timer) or reset: refused either way
    }
    clearTimeout(timer);
    conn.close();
  }

  /** Sessions in progress. */
  get connections(): number {
    return this.sessions.size;
  }

  /** Stops listening, aborts sessions in progress and frees the TLS context. */
  close(): Promise<void> {
    for (const l of this.listeners) l.close();
    this.sessions.abortAll();
    this.ctx?.free();
    return Promise.resolve();
  }
}

/** What {@linkcode NtsKeSessions} needs of the server's options. */
export type NtsKeSessionOptions = Pick<
  NtsKeServerOptions,
  "keyRing" | "aeads" | "ntpServer" | "ntpPort" | "timeoutMs" | "random" | "onError"
>;

/** A session's outcome: cookies given, failed (TLS, bad request, timeout), or refused by negotiation. */
export type SessionResult = "served" | "failed" | null;

/** Pause before retrying a write the socket could not take yet, ms (as lib/io/tcp.ts). */
const WRITE_RETRY_MS = 5;

/** netinet/in.h, netinet/tcp.h: TCP_CORK (hold partial segments until it is cleared or the socket closes). */
const IPPROTO_TCP = 6, TCP_CORK = 3;

/** Phases of a {@linkcode KeConn}. */
const HANDSHAKE = 0, READING = 1, WRITING = 2, DONE = 3;

/** One NTS-KE session on its socket (see {@linkcode NtsKeSessions.serveSocket}). */
class KeConn {
  phase = HANDSHAKE;
  /** Application data received so far. */
  request: Uint8Array | null = null;
  /** The answer being written, and the result it stands for. */
  response: Uint8Array | null = null;
  result: SessionResult = "failed";
  /** The last error reported (passed to `done`). */
  error: unknown = undefined;
  /** In the sessions' epoll set. */
  registered = false;
  /** A write retry's timer (or, with an external loop, its due time: see `retrying`). */
  retry: ReturnType<typeof setTimeout> | undefined = undefined;
  retryAt = 0;

  constructor(
    readonly fd: number,
    readonly session: TlsSession,
    readonly deadline: number,
    readonly done: (result: SessionResult, error?: unknown) => void,
  ) {}
}

/**
 * Serves NTS-KE sessions (handshake, request, answer with cookies) on
 * accepted sockets; used by {@linkcode NtsKeServer} in its own thread and by
 * the NTS-KE helpers (`ntsprocesses`) on the connections the main thread
 * hands them. Each session is a small state machine with OpenSSL reading
 * and writing the socket itself (no bytes through JS, no promise per step):
 * it runs as far as the data allows at once (the ClientHello is usually
 * there when the connection is accepted) and, when OpenSSL wants more, its
 * socket joins an epoll set of these sessions: that one descriptor is
 * watched by the poller (registered once, so a session's start and end do
 * not wake the poller's thread), and its callback steps the ready sessions.
 * The session time limit is one timer for all sessions (their deadlines come
 * in the order they started), not one per session.
 *
 * With `external` (an NTS-KE helper's own blocking loop, see
 * lib/daemon/nts_ke_helper_worker.ts) there is no poller and no timer: the
 * owner waits on {@linkcode epollFd} itself (with its own descriptors added
 * by {@linkcode watchExtra}), passes each ready session descriptor to
 * {@linkcode ready}, and calls {@linkcode tick} by {@linkcode nextWakeMs}.
 */
export class NtsKeSessions {
  /** Sessions in progress by descriptor, in the order they started (so by deadline). */
  private readonly live = new Map<number, KeConn>();
  private sweepTimer: ReturnType<typeof setTimeout> | undefined = undefined;
  private readonly timeoutMs: number;
  /** The epoll set of the sessions waiting for input (-1 until the first one). */
  private epfd = -1;
  private readonly readyFds = new Int32Array(64);
  /** With an external loop: sessions waiting to retry a write. */
  private readonly retrying = new Set<KeConn>();

  constructor(private readonly options: NtsKeSessionOptions, private readonly external = false) {
    this.timeoutMs = options.timeoutMs ?? SESSION_TIMEOUT_MS;
  }

  /** The sessions' epoll set (made on first use). */
  get epollFd(): number {
    if (this.epfd < 0) {
      this.epfd = epollCreate();
      // drains: each session reads until OpenSSL wants more (or ends)
      if (!this.external) poller.register(this.epfd, this.onReady, undefined, true);
    }
    return this.epfd;
  }

  /** Adds the owner's descriptor `fd` to the epoll set (external loop only). */
  watchExtra(fd: number): void {
    const r = epollWatch(this.epollFd, fd, true);
    if (r < 0) throw new ErrnoError("epoll_ctl", -r);
  }

  /** Steps the session on `fd` (external loop: the set said it is ready); false when none. */
  ready(fd: number): boolean {
    const c = this.live.get(fd);
    if (c === undefined) return false;
    this.step(c);
    return true;
  }

  /** External loop: closes the sessions past their deadline and retries the writes due. */
  tick(now = performance.now()): void {
    for (const c of this.retrying) {
      if (c.retryAt > now) continue;
      this.retrying.delete(c);
      this.step(c);
    }
    this.expire(now);
  }

  /** External loop: ms until {@linkcode tick} has work (-1: none pending). */
  nextWakeMs(now = performance.now()): number {
    const first = this.live.values().next();
    if (first.done) return -1;
    let at = first.value.deadline;
    for (const c of this.retrying) at = Math.min(at, c.retryAt);
    return Math.max(0, Math.ceil(at - now));
  }

  private random(n: number): Uint8Array {
    return this.options.random?.(n) ?? crypto.getRandomValues(new Uint8Array(n));
  }

  /** Sessions in progress. */
  get size(): number {
    return this.live.size;
  }

  /**
   * Serves one session on the accepted non-blocking socket `fd` (owned from
   * now on: closed at the end) and calls `done` with its result ("served"
   * when it got cookies; "failed": TLS, bad request, timeout; null: refused
   * by negotiation, counted as neither) and the last error reported.
   */
  serveSocket(
    ctx: TlsContext,
    fd: number,
    done: (result: SessionResult, error?: unknown) => void,
  ): void {
    let session: TlsSession;
    try {
      session = ctx.sessionOnSocket(fd);
    } catch (e) {
      this.options.onError?.(e);
      closeStream(fd);
      done("failed", e);
      return;
    }
    const c = new KeConn(fd, session, performance.now() + this.timeoutMs, done);
    this.live.set(fd, c);
    if (this.sweepTimer === undefined && !this.external) this.armSweep();
    this.step(c);
  }

  /** Closes every session in progress at once (counted as failed), and the epoll set. */
  abortAll(): void {
    for (const c of this.live.values()) this.finish(c, "failed", false);
    clearTimeout(this.sweepTimer);
    this.sweepTimer = undefined;
    if (this.epfd >= 0) {
      if (!this.external) poller.unregister(this.epfd);
      closeFd(this.epfd);
      this.epfd = -1;
    }
  }

  /** The poller's callback: steps every session whose socket is ready (drains the set). */
  private readonly onReady = () => {
    for (let round = 0; round < 16; round++) {
      const n = epollReady(this.epfd, this.readyFds);
      for (let i = 0; i < n; i++) {
        const c = this.live.get(this.readyFds[i]!);
        if (c !== undefined) this.step(c);
      }
      if (n < this.readyFds.length) return;
    }
  };

  private fail(c: KeConn, e: unknown): void {
    c.error = e;
    this.options.onError?.(e);
  }

  /** Runs a session as far as its socket allows. */
  private step(c: KeConn): void {
    try {
      if (c.phase === HANDSHAKE) {
        const r = c.session.handshake();
        if (r !== "done") return this.wait(c, r);
        // chronyd completes the handshake with a client that did not offer ntske/1, then closes.
        if (c.session.alpn() !== NTS_KE_ALPN) {
          throw new NtsKeError("malformed", `client did not offer ALPN ${NTS_KE_ALPN}`);
        }
        c.phase = READING;
      }
      if (c.phase === READING) {
        let response: Uint8Array;
        let served: SessionResult = null;
        try {
          const msg = this.readRequest(c);
          if (typeof msg === "string") return this.wait(c, msg);
          const request = parseClientRequest(msg);
          const choice = negotiate(request, this.options.aeads ?? [AEAD_AES_SIV_CMAC_256]);
          if (choice.kind === "refuse") {
            response = buildRefusalResponse(choice.reason);
          } else {
            response = this.answer(c.session, choice.aead, request.compliant128gcm === true);
            served = "served";
          }
        } catch (e) {
          // Framing faults (no critical empty End of Message last, too long) get no answer.
          if (!(e instanceof NtsKeError) || e.kind === "malformed" || e.kind === "too-long") {
            throw e;
          }
          response = buildErrorResponse(e.errorCode);
          this.fail(c, e);
          served = "failed";
        }
        c.response = response;
        c.result = served;
        c.phase = WRITING;
        // the answer, close_notify and FIN in one segment: held until the socket is closed
        setsockoptInt(c.fd, IPPROTO_TCP, TCP_CORK, 1);
      }
      if (c.phase === WRITING) {
        if (c.session.write(c.response!) === "want_write") return this.wait(c, "want_write");
        this.finish(c, c.result, true);
      }
    } catch (e) {
      this.fail(c, e);
      this.finish(c, "failed", true);
    }
  }

  /** The whole request once received, or what the session waits for. */
  private readRequest(c: KeConn): Uint8Array | "want_read" | "want_write" {
    for (;;) {
      const r = c.session.read();
      if (r instanceof Uint8Array) {
        if (c.request === null) c.request = r;
        else {
          const next = new Uint8Array(c.request.length + r.length);
          next.set(c.request);
          next.set(r, c.request.length);
          c.request = next;
        }
        const len = completeRequestLength(c.request);
        if (len !== null) return c.request.subarray(0, len);
        continue;
      }
      if (r === "closed") {
        throw new TlsError("closed", "connection closed before a complete message");
      }
      return r;
    }
  }

  /** Waits for the socket: readable (the epoll set), or a retry after a full send buffer. */
  private wait(c: KeConn, what: "want_read" | "want_write"): void {
    if (what === "want_read") {
      if (!c.registered) {
        const r = epollWatch(this.epollFd, c.fd, true);
        if (r < 0) throw new ErrnoError("epoll_ctl", -r);
        c.registered = true;
      }
      return;
    }
    // out of the set until the retry (its unread input would make the set ready all along)
    this.unwatch(c);
    if (this.external) {
      c.retryAt = performance.now() + WRITE_RETRY_MS;
      this.retrying.add(c);
      return;
    }
    c.retry = setTimeout(() => {
      c.retry = undefined;
      this.step(c);
    }, WRITE_RETRY_MS);
  }

  private unwatch(c: KeConn): void {
    if (c.registered) {
      c.registered = false;
      epollWatch(this.epfd, c.fd, false);
    }
  }

  /** Ends a session: close_notify (when `graceful`), socket closed, session back to its pool. */
  private finish(c: KeConn, result: SessionResult, graceful: boolean): void {
    if (c.phase === DONE) return;
    c.phase = DONE;
    if (c.retry !== undefined) clearTimeout(c.retry);
    this.retrying.delete(c);
    if (graceful) c.session.shutdown(); // best effort: the peer may be gone
    // closing the descriptor (never duplicated) takes it out of the epoll set
    c.registered = false;
    closeStream(c.fd);
    c.session.free();
    this.live.delete(c.fd);
    c.done(result, c.error);
  }

  /** Arms the one timer of the oldest session's deadline. */
  private armSweep(): void {
    const first = this.live.values().next();
    if (first.done) return;
    this.sweepTimer = setTimeout(
      this.sweep,
      Math.max(0, first.value.deadline - performance.now()),
    );
  }

  /** Closes the sessions past their deadline (chronyd: 2 s), then re-arms. */
  private readonly sweep = () => {
    this.sweepTimer = undefined;
    this.expire(performance.now());
    this.armSweep();
  };

  private expire(now: number): void {
    for (const c of this.live.values()) {
      if (c.deadline > now) break;
      this.fail(c, new TlsError("closed", "NTS-KE session timed out"));
      this.finish(c, "failed", false);
    }
  }

  private answer(session: TlsSession, aead: number, compliant: boolean): Uint8Array {
    const keyLength = aeadById(aead)?.keyLength;
    if (keyLength === undefined) return buildErrorResponse(KeErrorCode.INTERNAL_SERVER_ERROR);
    // record 1024 echoed: RFC 8915's context for AES-128-GCM-SIV (chrony 4.6.1+)
    const c2s = session.exportKeyingMaterial(
      NTS_EXPORTER_LABEL,
      exporterContext(aead, "c2s", compliant),
      keyLength,
    );
    const s2c = session.exportKeyingMaterial(
      NTS_EXPORTER_LABEL,
      exporterContext(aead, "s2c", compliant),
      keyLength,
    );
    const cookies: Uint8Array[] = [];
    const nonces = this.random(COOKIE_NONCE_LENGTH * MAX_COOKIES);
    for (let i = 0; i < MAX_COOKIES; i++) {
      const nonce = nonces.subarray(i * COOKIE_NONCE_LENGTH, (i + 1) * COOKIE_NONCE_LENGTH);
      cookies.push(this.options.keyRing.makeCookie({ aead, c2s, s2c }, nonce));
    }
    const ntpPort = this.options.ntpPort;
    return buildServerResponse({
      aead,
      cookies,
      ...(compliant ? { compliant128gcm: true } : {}),
      ...(this.options.ntpServer !== undefined ? { server: this.options.ntpServer } : {}),
      ...(ntpPort !== undefined && ntpPort !== NTP_PORT ? { port: ntpPort } : {}),
    });
  }
}
