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

import { type CertKeyPair, TlsContext, TlsError } from "../../ffi/libssl.ts";
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
import { TlsStream } from "./tls_stream.ts";
import { isOsError } from "./os_error.ts";
import { type TcpConn, TcpListener } from "./tcp.ts";
import { addressFamily } from "../../ffi/libc.ts";

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
    take(conn: TcpConn): boolean;
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
  private active = new Set<TlsStream>();
  private sessions: NtsKeSessions | null = null;
  private readonly loop: Promise<void>;

  private constructor(
    private readonly listeners: readonly TcpListener[],
    private readonly ctx: TlsContext | null,
    private readonly options: NtsKeServerOptions,
  ) {
    this.loop = Promise.all(listeners.map((l) => this.acceptLoop(l))).then(() => {});
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

  private async acceptLoop(listener: TcpListener): Promise<void> {
    const max = this.options.maxConnections ?? DEFAULT_MAX_NTS_CONNECTIONS;
    for (;;) {
      const conn = await listener.accept();
      if (conn === null) return; // listener closed
      if (this.active.size >= max || this.options.admit?.(conn.remoteAddr) === false) {
        this.stats.dropped++;
        conn.close();
        continue;
      }
      if (this.ctx !== null && this.options.handoff?.alive) {
        if (!this.options.handoff.take(conn)) {
          this.stats.dropped++;
          conn.close();
        }
        continue;
      }
      if (this.ctx === null) {
        // no credentials: the client's hello is read and the connection closed without an
        // answer (its handshake ends early, as with chronyd 4.3)
        this.stats.failed++;
        void this.refuse(conn);
        continue;
      }
      const tls = new TlsStream(conn, this.ctx.session());
      this.active.add(tls);
      this.serve(tls).finally(() => this.active.delete(tls));
    }
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

  private async serve(tls: TlsStream): Promise<void> {
    this.sessions ??= new NtsKeSessions(this.options);
    const r = await this.sessions.serve(tls);
    if (r !== null) this.stats[r]++;
  }

  /** Sessions in progress. */
  get connections(): number {
    return this.active.size;
  }

  /** Stops listening, aborts sessions in progress and frees the TLS context. */
  async close(): Promise<void> {
    for (const l of this.listeners) l.close();
    await this.loop;
    for (const t of this.active) t.abort();
    this.active.clear();
    this.ctx?.free();
  }
}

/** What {@linkcode NtsKeSessions} needs of the server's options. */
export type NtsKeSessionOptions = Pick<
  NtsKeServerOptions,
  "keyRing" | "aeads" | "ntpServer" | "ntpPort" | "timeoutMs" | "random" | "onError"
>;

/**
 * Serves NTS-KE sessions (handshake, request, answer with cookies) over
 * established TLS streams; used by {@linkcode NtsKeServer} in its own
 * process and by the NTS-KE helpers (`ntsprocesses`) on the connections the
 * main thread hands them.
 */
export class NtsKeSessions {
  constructor(private readonly options: NtsKeSessionOptions) {}

  private random(n: number): Uint8Array {
    return this.options.random?.(n) ?? crypto.getRandomValues(new Uint8Array(n));
  }

  /**
   * Serves one session and closes it: "served" when it got cookies, "failed"
   * (TLS, bad request, timeout), null when refused by negotiation (counted
   * as neither, as before).
   */
  async serve(tls: TlsStream): Promise<"served" | "failed" | null> {
    const timer = setTimeout(() => tls.abort(), this.options.timeoutMs ?? SESSION_TIMEOUT_MS);
    let result: "served" | "failed" | null = "failed";
    try {
      await tls.handshake();
      // chronyd completes the handshake with a client that did not offer ntske/1, then closes.
      if (tls.session.alpn() !== NTS_KE_ALPN) {
        throw new NtsKeError("malformed", `client did not offer ALPN ${NTS_KE_ALPN}`);
      }
      let response: Uint8Array;
      let served: "served" | "failed" | null = null;
      try {
        const msg = await tls.readMessage(completeRequestLength);
        const request = parseClientRequest(msg);
        const choice = negotiate(request, this.options.aeads ?? [AEAD_AES_SIV_CMAC_256]);
        if (choice.kind === "refuse") {
          response = buildRefusalResponse(choice.reason);
        } else {
          response = this.answer(tls, choice.aead, request.compliant128gcm === true);
          served = "served";
        }
      } catch (e) {
        // Framing faults (no critical empty End of Message last, too long) get no answer.
        if (!(e instanceof NtsKeError) || e.kind === "malformed" || e.kind === "too-long") throw e;
        response = buildErrorResponse(e.errorCode);
        this.options.onError?.(e);
        served = "failed";
      }
      await tls.write(response);
      result = served;
    } catch (e) {
      this.options.onError?.(e);
    } finally {
      clearTimeout(timer);
      await tls.close();
    }
    return result;
  }

  private answer(tls: TlsStream, aead: number, compliant: boolean): Uint8Array {
    const keyLength = aeadById(aead)?.keyLength;
    if (keyLength === undefined) return buildErrorResponse(KeErrorCode.INTERNAL_SERVER_ERROR);
    // record 1024 echoed: RFC 8915's context for AES-128-GCM-SIV (chrony 4.6.1+)
    const c2s = tls.session.exportKeyingMaterial(
      NTS_EXPORTER_LABEL,
      exporterContext(aead, "c2s", compliant),
      keyLength,
    );
    const s2c = tls.session.exportKeyingMaterial(
      NTS_EXPORTER_LABEL,
      exporterContext(aead, "s2c", compliant),
      keyLength,
    );
    const cookies: Uint8Array[] = [];
    for (let i = 0; i < MAX_COOKIES; i++) {
      cookies.push(
        this.options.keyRing.makeCookie({ aead, c2s, s2c }, this.random(COOKIE_NONCE_LENGTH)),
      );
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
