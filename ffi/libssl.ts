/**
 * OpenSSL 3 (libssl.so.3, libcrypto.so.3): what horae needs the C library
 * for. For NTS: TLS 1.3 client and server sessions over memory BIOs (the
 * caller pumps bytes between a socket and the session, see
 * `lib/io/tls_stream.ts`) or, for the NTS-KE server, over the socket itself
 * (`lib/io/nts_ke_server.ts`), ALPN, host name checks and the RFC 5705
 * keying-material exporter. For lib/crypto: the AES-128/256 block cipher in
 * ECB or CBC mode ({@linkcode AesContext}); the modes built on it (CMAC,
 * AES-SIV, AES-GCM-SIV) are computed in lib/crypto.
 *
 * The libraries are opened lazily on first use: importing this module never
 * fails. When they cannot be loaded, every entry point throws
 * {@linkcode NtsUnavailableError}; {@linkcode opensslAvailability} reports it
 * as a value.
 *
 * @example
 * ```ts
 * import { AesContext, opensslAvailability } from "./libssl.ts";
 * if (opensslAvailability().ok) {
 *   const aes = AesContext.create("AES-128-ECB", new Uint8Array(16));
 *   const out = new Uint8Array(32);
 *   aes.encrypt(out, new Uint8Array(16), 16); // out[0, 16): AES-128 of a zero block
 * }
 * ```
 * @module
 */

/** OpenSSL could not be loaded, so TLS/NTS cannot work on this machine. */
export class NtsUnavailableError extends Error {
  override name = "NtsUnavailableError";
  constructor(readonly detail: string) {
    super(`NTS unavailable: cannot load OpenSSL 3 (libssl.so.3/libcrypto.so.3): ${detail}`);
  }
}

/** What went wrong in a TLS operation. */
export type TlsErrorKind =
  | "config" // bad certificate/key/CA file or option
  | "verify" // the peer's certificate failed verification (untrusted, wrong name, expired)
  | "alpn" // the peer did not agree on the application protocol
  | "protocol" // any other TLS failure (alert, malformed record)
  | "closed"; // the transport ended before the operation completed

/** A typed TLS failure with OpenSSL's error queue text in `detail`. */
export class TlsError extends Error {
  override name = "TlsError";
  constructor(
    readonly kind: TlsErrorKind,
    message: string,
    readonly detail = "",
    /** X509_V_ERR_* code for kind "verify" (0 otherwise). */
    readonly verifyCode = 0,
  ) {
    super(detail ? `${message} (${detail})` : message);
  }
}

// ssl.h / tls1.h / x509_vfy.h / evp.h (OpenSSL 3.0)
const SSL_CTRL_SET_MIN_PROTO_VERSION = 123;
const SSL_CTRL_SET_SESS_CACHE_MODE = 44;
const SSL_SESS_CACHE_OFF = 0;
const BIO_CTRL_RESET = 1;
/** bio.h: BIO_set_fd (BIO_int_ctrl) and its "do not close the descriptor" flag. */
const BIO_C_SET_FD = 104;
const BIO_NOCLOSE = 0;
/** SSL_CTRL_MODE and SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER (a retried SSL_write's buffer may move). */
const SSL_CTRL_MODE = 33;
const SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER = 2n;
/** SSL_CTX_set_read_ahead: a socket session reads all that is there, not a record header then its body. */
const SSL_CTRL_SET_READ_AHEAD = 41;
/** Server sessions kept for reuse by a context (SSL_clear instead of SSL_free + SSL_new). */
const SESSION_POOL = 32;
const SSL_CTRL_SET_TLSEXT_SERVERNAME_CB = 53;
const SSL_CTRL_SET_TLSEXT_HOSTNAME = 55;
const TLS1_3_VERSION = 0x0304;
const TLSEXT_NAMETYPE_HOST_NAME = 0;
const SSL_TLSEXT_ERR_OK = 0;
const SSL_TLSEXT_ERR_NOACK = 3;
const OPENSSL_NPN_NEGOTIATED = 1;
const SSL_FILETYPE_PEM = 1;
const SSL_VERIFY_PEER = 1;
const SSL_OP_NO_TICKET = 1n << 14n;
const SSL_ERROR_WANT_READ = 2;
const SSL_ERROR_WANT_WRITE = 3;
const SSL_ERROR_ZERO_RETURN = 6;
const X509_V_FLAG_NO_CHECK_TIME = 0x200000n;
const X509_V_ERR_HOSTNAME_MISMATCH = 62;

const SSL_SYMBOLS = {
  TLS_client_method: { parameters: [], result: "pointer" },
  TLS_server_method: { parameters: [], result: "pointer" },
  SSL_CTX_new: { parameters: ["pointer"], result: "pointer" },
  SSL_CTX_free: { parameters: ["pointer"], result: "void" },
  SSL_CTX_ctrl: { parameters: ["pointer", "i32", "i64", "pointer"], result: "i64" },
  SSL_CTX_callback_ctrl: { parameters: ["pointer", "i32", "function"], result: "i64" },
  SSL_CTX_set_options: { parameters: ["pointer", "u64"], result: "u64" },
  SSL_CTX_set_num_tickets: { parameters: ["pointer", "usize"], result: "i32" },
  SSL_CTX_use_certificate_chain_file: { parameters: ["pointer", "buffer"], result: "i32" },
  SSL_CTX_use_PrivateKey_file: { parameters: ["pointer", "buffer", "i32"], result: "i32" },
  SSL_CTX_check_private_key: { parameters: ["pointer"], result: "i32" },
  SSL_CTX_get0_certificate: { parameters: ["pointer"], result: "pointer" },
  SSL_CTX_set_alpn_protos: { parameters: ["pointer", "buffer", "u32"], result: "i32" },
  SSL_CTX_set_alpn_select_cb: { parameters: ["pointer", "function", "pointer"], result: "void" },
  SSL_select_next_proto: {
    parameters: ["pointer", "pointer", "buffer", "u32", "pointer", "u32"],
    result: "i32",
  },
  SSL_CTX_load_verify_locations: { parameters: ["pointer", "buffer", "buffer"], result: "i32" },
  SSL_CTX_set_default_verify_paths: { parameters: ["pointer"], result: "i32" },
  SSL_CTX_set_verify: { parameters: ["pointer", "i32", "pointer"], result: "void" },
  SSL_CTX_get0_param: { parameters: ["pointer"], result: "pointer" },
  SSL_new: { parameters: ["pointer"], result: "pointer" },
  SSL_free: { parameters: ["pointer"], result: "void" },
  SSL_clear: { parameters: ["pointer"], result: "i32" },
  SSL_set_bio: { parameters: ["pointer", "pointer", "pointer"], result: "void" },
  SSL_set_connect_state: { parameters: ["pointer"], result: "void" },
  SSL_set_accept_state: { parameters: ["pointer"], result: "void" },
  SSL_set_SSL_CTX: { parameters: ["pointer", "pointer"], result: "pointer" },
  SSL_get_servername: { parameters: ["pointer", "i32"], result: "pointer" },
  SSL_do_handshake: { parameters: ["pointer"], result: "i32" },
  SSL_read: { parameters: ["pointer", "buffer", "i32"], result: "i32" },
  SSL_write: { parameters: ["pointer", "buffer", "i32"], result: "i32" },
  SSL_shutdown: { parameters: ["pointer"], result: "i32" },
  SSL_get_error: { parameters: ["pointer", "i32"], result: "i32" },
  SSL_get0_alpn_selected: { parameters: ["pointer", "buffer", "buffer"], result: "void" },
  SSL_export_keying_material: {
    parameters: ["pointer", "buffer", "usize", "buffer", "usize", "buffer", "usize", "i32"],
    result: "i32",
  },
  SSL_set1_host: { parameters: ["pointer", "buffer"], result: "i32" },
  SSL_ctrl: { parameters: ["pointer", "i32", "i64", "buffer"], result: "i64" },
  SSL_get_verify_result: { parameters: ["pointer"], result: "i64" },
  SSL_get_version: { parameters: ["pointer"], result: "pointer" },
} as const;

const CRYPTO_SYMBOLS = {
  BIO_new: { parameters: ["pointer"], result: "pointer" },
  BIO_s_mem: { parameters: [], result: "pointer" },
  BIO_s_socket: { parameters: [], result: "pointer" },
  BIO_int_ctrl: { parameters: ["pointer", "i32", "i64", "i32"], result: "i64" },
  BIO_read: { parameters: ["pointer", "buffer", "i32"], result: "i32" },
  BIO_write: { parameters: ["pointer", "buffer", "i32"], result: "i32" },
  BIO_ctrl_pending: { parameters: ["pointer"], result: "usize" },
  BIO_ctrl: { parameters: ["pointer", "i32", "i64", "pointer"], result: "i64" },
  ERR_get_error: { parameters: [], result: "u64" },
  ERR_clear_error: { parameters: [], result: "void" },
  ERR_error_string_n: { parameters: ["u64", "buffer", "usize"], result: "void" },
  X509_verify_cert_error_string: { parameters: ["i64"], result: "pointer" },
  X509_VERIFY_PARAM_set_flags: { parameters: ["pointer", "u64"], result: "i32" },
  X509_check_host: {
    parameters: ["pointer", "buffer", "usize", "u32", "pointer"],
    result: "i32",
  },
  EVP_CIPHER_fetch: { parameters: ["pointer", "buffer", "pointer"], result: "pointer" },
  EVP_CIPHER_CTX_new: { parameters: [], result: "pointer" },
  EVP_CIPHER_CTX_free: { parameters: ["pointer"], result: "void" },
  EVP_EncryptInit_ex2: {
    parameters: ["pointer", "pointer", "buffer", "buffer", "pointer"],
    result: "i32",
  },
  EVP_EncryptUpdate: {
    parameters: ["pointer", "buffer", "buffer", "buffer", "i32"],
    result: "i32",
  },
  EVP_CIPHER_CTX_set_padding: { parameters: ["pointer", "i32"], result: "i32" },
  // The same call on memory of an AesBuffer, by address: pointers cross Deno's FFI faster
  // than buffers (~5 ns per buffer argument).
  EVP_EncryptUpdate_at: {
    name: "EVP_EncryptUpdate",
    parameters: ["pointer", "pointer", "pointer", "pointer", "i32"],
    result: "i32",
  },
} as const;

interface Libs {
  ssl: Deno.DynamicLibrary<typeof SSL_SYMBOLS>["symbols"];
  crypto: Deno.DynamicLibrary<typeof CRYPTO_SYMBOLS>["symbols"];
}

let libs: Libs | NtsUnavailableError | undefined;

function load(): Libs {
  if (libs === undefined) {
    try {
      // libcrypto first: libssl depends on it.
      const crypto = Deno.dlopen("libcrypto.so.3", CRYPTO_SYMBOLS).symbols;
      const ssl = Deno.dlopen("libssl.so.3", SSL_SYMBOLS).symbols;
      libs = { ssl, crypto };
    } catch (e) {
      libs = new NtsUnavailableError(e instanceof Error ? e.message : String(e));
    }
  }
  if (libs instanceof NtsUnavailableError) throw libs;
  return libs;
}

/** Loads OpenSSL if needed and says whether TLS/NTS can work here. */
export function opensslAvailability(): { ok: true } | { ok: false; error: NtsUnavailableError } {
  try {
    load();
    return { ok: true };
  } catch (e) {
    if (e instanceof NtsUnavailableError) return { ok: false, error: e };
    throw e;
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function cstr(s: string): Uint8Array {
  return encoder.encode(s + "\0");
}

function readCStr(p: Deno.PointerValue): string {
  return p ? new Deno.UnsafePointerView(p).getCString() : "";
}

/** Drains OpenSSL's thread error queue into one readable line. */
function errorQueue(): string {
  const { crypto } = load();
  const out: string[] = [];
  const buf = new Uint8Array(256);
  for (let e = crypto.ERR_get_error(); e !== 0n; e = crypto.ERR_get_error()) {
    crypto.ERR_error_string_n(e, buf, 256n);
    out.push(decoder.decode(buf.subarray(0, buf.indexOf(0))));
  }
  return out.join("; ");
}

/** ALPN wire format (RFC 7301 §3.1): each protocol name prefixed by its length. */
function alpnWire(protocols: readonly string[]): Uint8Array {
  const parts = protocols.map((p) => encoder.encode(p));
  const out = new Uint8Array(parts.reduce((a, p) => a + 1 + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out[o++] = p.length;
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Options of a TLS client context. */
export interface TlsClientOptions {
  /** PEM files with trusted CA certificates (chrony's `ntstrustedcerts`). */
  caFiles?: readonly string[];
  /** Also trust the system's default CAs (false with chrony's `nosystemcert`). Default true. */
  systemCerts?: boolean;
  /** Skip the certificate validity-period check (chrony's `nocerttimecheck`). Default false. */
  noCertTimeCheck?: boolean;
  /** ALPN protocols to offer, e.g. `["ntske/1"]`. */
  alpn?: readonly string[];
}

/** One certificate chain with its private key, both PEM files. */
export interface CertKeyPair {
  certFile: string;
  keyFile: string;
}

/** Options of a TLS server context. */
export interface TlsServerOptions {
  /** At least one pair; with several, the client's SNI name picks the matching certificate. */
  pairs: readonly CertKeyPair[];
  /**
   * ALPN protocols accepted. A client offering none of them (or no ALPN at
   * all) still completes the handshake, with no protocol selected, as with
   * chronyd: the caller checks {@linkcode TlsSession.alpn} and closes.
   */
  alpn?: readonly string[];
}

// Callbacks and buffers that OpenSSL refers to must outlive the contexts.
const keepAlive: unknown[] = [];

/** A TLS 1.3 context (client or server); makes {@linkcode TlsSession}s. */
export class TlsContext {
  private constructor(
    readonly isServer: boolean,
    private readonly ctxs: Deno.PointerObject[],
  ) {}

  /** A client context. Throws TlsError("config") or NtsUnavailableError. */
  static client(options: TlsClientOptions = {}): TlsContext {
    const { ssl, crypto } = load();
    const ctx = ssl.SSL_CTX_new(ssl.TLS_client_method());
    if (!ctx) throw new TlsError("config", "SSL_CTX_new failed", errorQueue());
    ssl.SSL_CTX_ctrl(ctx, SSL_CTRL_SET_MIN_PROTO_VERSION, BigInt(TLS1_3_VERSION), null);
    if (options.alpn) {
      const w = alpnWire(options.alpn);
      // Returns 0 on success (unlike most of OpenSSL).
      if (ssl.SSL_CTX_set_alpn_protos(ctx, w, w.length) !== 0) {
        ssl.SSL_CTX_free(ctx);
        throw new TlsError("config", "cannot set ALPN protocols", errorQueue());
      }
    }
    for (const f of options.caFiles ?? []) {
      if (ssl.SSL_CTX_load_verify_locations(ctx, cstr(f), null) !== 1) {
        ssl.SSL_CTX_free(ctx);
        throw new TlsError("config", `cannot load trusted certificates from ${f}`, errorQueue());
      }
    }
    if (options.systemCerts !== false) ssl.SSL_CTX_set_default_verify_paths(ctx);
    if (options.noCertTimeCheck) {
      crypto.X509_VERIFY_PARAM_set_flags(ssl.SSL_CTX_get0_param(ctx), X509_V_FLAG_NO_CHECK_TIME);
    }
    ssl.SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, null);
    return new TlsContext(false, [ctx]);
  }

  /** A server context. Throws TlsError("config") or NtsUnavailableError. */
  static server(options: TlsServerOptions): TlsContext {
    const { ssl, crypto } = load();
    if (options.pairs.length === 0) throw new TlsError("config", "no server certificate given");
    const ctxs: Deno.PointerObject[] = [];
    const fail = (msg: string): never => {
      const detail = errorQueue();
      for (const c of ctxs) ssl.SSL_CTX_free(c);
      throw new TlsError("config", msg, detail);
    };
    let alpnCb: Deno.PointerObject | null = null;
    if (options.alpn) {
      const serverList = alpnWire(options.alpn);
      const cb = new Deno.UnsafeCallback(
        {
          parameters: ["pointer", "pointer", "pointer", "pointer", "u32", "pointer"],
          result: "i32",
        } as const,
        (_s, out, outLen, inp, inLen, _arg) => {
          const r = ssl.SSL_select_next_proto(
            out,
            outLen,
            serverList,
            serverList.length,
            inp,
            inLen,
          );
          return r === OPENSSL_NPN_NEGOTIATED ? SSL_TLSEXT_ERR_OK : SSL_TLSEXT_ERR_NOACK;
        },
      );
      keepAlive.push(cb, serverList);
      alpnCb = cb.pointer;
    }
    for (const pair of options.pairs) {
      const ctx = ssl.SSL_CTX_new(ssl.TLS_server_method());
      if (!ctx) fail("SSL_CTX_new failed");
      ctxs.push(ctx!);
      ssl.SSL_CTX_ctrl(ctx, SSL_CTRL_SET_MIN_PROTO_VERSION, BigInt(TLS1_3_VERSION), null);
      // NTS-KE never resumes sessions: no tickets after the handshake.
      ssl.SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
      ssl.SSL_CTX_set_num_tickets(ctx, 0n);
      // nor a server-side session cache (an insert per handshake, a flush every 255)
      ssl.SSL_CTX_ctrl(ctx, SSL_CTRL_SET_SESS_CACHE_MODE, BigInt(SSL_SESS_CACHE_OFF), null);
      ssl.SSL_CTX_ctrl(ctx, SSL_CTRL_MODE, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER, null);
      ssl.SSL_CTX_ctrl(ctx, SSL_CTRL_SET_READ_AHEAD, 1n, null);
      if (ssl.SSL_CTX_use_certificate_chain_file(ctx, cstr(pair.certFile)) !== 1) {
        fail(`cannot load server certificate ${pair.certFile}`);
      }
      if (ssl.SSL_CTX_use_PrivateKey_file(ctx, cstr(pair.keyFile), SSL_FILETYPE_PEM) !== 1) {
        fail(`cannot load server key ${pair.keyFile}`);
      }
      if (ssl.SSL_CTX_check_private_key(ctx) !== 1) {
        fail(`server key ${pair.keyFile} does not match certificate ${pair.certFile}`);
      }
      if (alpnCb) ssl.SSL_CTX_set_alpn_select_cb(ctx, alpnCb, null);
    }
    if (ctxs.length > 1) {
      // int cb(SSL *s, int *al, void *arg): switch to the context whose certificate matches SNI.
      const sniCb = new Deno.UnsafeCallback(
        { parameters: ["pointer", "pointer", "pointer"], result: "i32" } as const,
        (s, _al, _arg) => {
          const name = readCStr(ssl.SSL_get_servername(s, TLSEXT_NAMETYPE_HOST_NAME));
          if (!name) return SSL_TLSEXT_ERR_OK;
          const n = encoder.encode(name);
          for (const c of ctxs) {
            const cert = ssl.SSL_CTX_get0_certificate(c);
            if (cert && crypto.X509_check_host(cert, n, BigInt(n.length), 0, null) === 1) {
              ssl.SSL_set_SSL_CTX(s, c);
              break;
            }
          }
          return SSL_TLSEXT_ERR_OK;
        },
      );
      keepAlive.push(sniCb);
      ssl.SSL_CTX_callback_ctrl(ctxs[0]!, SSL_CTRL_SET_TLSEXT_SERVERNAME_CB, sniCb.pointer);
    }
    return new TlsContext(true, ctxs);
  }

  /**
   * A new session. For a client, `hostName` is sent as SNI and the peer's
   * certificate must match it (a DNS name or an IP address).
   */
  session(hostName?: string): TlsSession {
    if (this.isServer) {
      const reused = this.pool.pop();
      if (reused !== undefined) return new TlsSession(this.ctxs[0]!, true, undefined, reused, this);
      return new TlsSession(this.ctxs[0]!, true, undefined, undefined, this);
    }
    return new TlsSession(this.ctxs[0]!, this.isServer, hostName);
  }

  /**
   * A server session that reads and writes the connected, non-blocking
   * socket `fd` itself (a socket BIO; the descriptor stays the caller's to
   * close): no bytes pass through JS. Steps return "want_read" when the
   * socket has nothing more yet and "want_write" when its send buffer is full.
   */
  sessionOnSocket(fd: number): TlsSession {
    if (!this.isServer) throw new TlsError("config", "a socket session is a server's");
    const p = this.socketPool.pop() ?? newSocketSsl(this.ctxs[0]!);
    load().crypto.BIO_int_ctrl(p.rbio, BIO_C_SET_FD, BigInt(BIO_NOCLOSE), fd);
    return new TlsSession(this.ctxs[0]!, true, undefined, p, this);
  }

  /** Socket sessions freed after use (as {@linkcode pool}, with their socket BIO). */
  private readonly socketPool: PooledSsl[] = [];

  /**
   * Server sessions freed after use, cleared (SSL_clear: ready for another
   * connection with the same settings) with their emptied memory BIOs: a new
   * connection takes one instead of allocating an SSL and two BIOs.
   */
  private readonly pool: PooledSsl[] = [];

  /** @internal a server session's SSL back for reuse; false when it must be freed. */
  recycle(p: PooledSsl): boolean {
    const pool = p.socket ? this.socketPool : this.pool;
    if (this.ctxs.length === 0 || pool.length >= SESSION_POOL) return false;
    const { ssl, crypto } = load();
    if (ssl.SSL_clear(p.ssl) !== 1) {
      crypto.ERR_clear_error();
      return false;
    }
    if (!p.socket) {
      crypto.BIO_ctrl(p.rbio, BIO_CTRL_RESET, 0n, null);
      crypto.BIO_ctrl(p.wbio, BIO_CTRL_RESET, 0n, null);
    }
    // an SNI callback may have switched it to another certificate's context
    if (this.ctxs.length > 1) ssl.SSL_set_SSL_CTX(p.ssl, this.ctxs[0]!);
    ssl.SSL_set_accept_state(p.ssl);
    pool.push(p);
    return true;
  }

  /** Frees the OpenSSL contexts and pooled sessions; sessions in use keep their own references. */
  free(): void {
    const { ssl } = load();
    for (const p of this.pool.splice(0)) ssl.SSL_free(p.ssl);
    for (const p of this.socketPool.splice(0)) ssl.SSL_free(p.ssl);
    for (const c of this.ctxs.splice(0)) ssl.SSL_CTX_free(c);
  }
}

/** Out-parameters of SSL_get0_alpn_selected (used synchronously only). */
const alpnPtr = new BigUint64Array(1), alpnLen = new Uint32Array(1);
const alpnPtrBytes = new Uint8Array(alpnPtr.buffer), alpnLenBytes = new Uint8Array(alpnLen.buffer);

/** The one scratch buffer of every {@linkcode TlsSession} (no 16 KiB allocation per session). */
const sessionBuf = new Uint8Array(16384);

/** An SSL object with its two memory BIOs (or one socket BIO), kept by a server context for reuse. */
interface PooledSsl {
  ssl: Deno.PointerObject;
  rbio: Deno.PointerObject;
  wbio: Deno.PointerObject;
  /** rbio = wbio is a socket BIO ({@linkcode TlsContext.sessionOnSocket}). */
  socket: boolean;
}

/** A server SSL over a new socket BIO (its descriptor set by the caller), in accept state. */
function newSocketSsl(ctx: Deno.PointerObject): PooledSsl {
  const { ssl, crypto } = load();
  const s = ssl.SSL_new(ctx);
  if (!s) throw new TlsError("config", "SSL_new failed", errorQueue());
  const bio = crypto.BIO_new(crypto.BIO_s_socket());
  if (!bio) {
    ssl.SSL_free(s);
    throw new TlsError("config", "BIO_new failed", errorQueue());
  }
  ssl.SSL_set_bio(s, bio, bio); // one BIO both ways: the session owns it
  ssl.SSL_set_accept_state(s);
  return { ssl: s, rbio: bio, wbio: bio, socket: true };
}

/**
 * Result of a step that may need more bytes from the peer ("want_write":
 * only a socket session, whose socket's send buffer is full).
 */
export type TlsStep = "done" | "want_read" | "want_write";

/**
 * One TLS connection as a state machine over two memory BIOs: push bytes
 * received from the network with {@linkcode feed}, send whatever
 * {@linkcode drain} returns. Nothing here blocks or touches a socket.
 */
export class TlsSession {
  private ssl: Deno.PointerObject | null;
  private readonly rbio: Deno.PointerObject;
  private readonly wbio: Deno.PointerObject;
  /** Over a socket BIO ({@linkcode TlsContext.sessionOnSocket}), not memory BIOs. */
  private readonly socket: boolean = false;
  /** Scratch of read() and drain(), shared by the sessions (used synchronously only). */
  private readonly buf = sessionBuf;

  /** @internal use {@linkcode TlsContext.session}. */
  constructor(
    ctx: Deno.PointerObject,
    readonly isServer: boolean,
    readonly hostName?: string,
    reused?: PooledSsl,
    private readonly owner?: TlsContext,
  ) {
    const { ssl, crypto } = load();
    if (reused !== undefined) {
      this.ssl = reused.ssl;
      this.rbio = reused.rbio;
      this.wbio = reused.wbio;
      this.socket = reused.socket;
      return;
    }
    const s = ssl.SSL_new(ctx);
    if (!s) throw new TlsError("config", "SSL_new failed", errorQueue());
    this.ssl = s;
    this.rbio = crypto.BIO_new(crypto.BIO_s_mem())!;
    this.wbio = crypto.BIO_new(crypto.BIO_s_mem())!;
    ssl.SSL_set_bio(s, this.rbio, this.wbio); // the session owns both BIOs now
    if (isServer) {
      ssl.SSL_set_accept_state(s);
    } else {
      ssl.SSL_set_connect_state(s);
      if (hostName) {
        const isIp = /^[0-9.]+$/.test(hostName) || hostName.includes(":");
        // SNI is for DNS names only (RFC 6066 §3).
        if (!isIp) ssl.SSL_ctrl(s, SSL_CTRL_SET_TLSEXT_HOSTNAME, 0n, cstr(hostName));
        if (ssl.SSL_set1_host(s, cstr(hostName)) !== 1) {
          this.free();
          throw new TlsError("config", `cannot check host name ${hostName}`, errorQueue());
        }
      }
    }
  }

  private get s(): Deno.PointerObject {
    if (!this.ssl) throw new TlsError("closed", "TLS session already freed");
    return this.ssl;
  }

  /** Gives OpenSSL bytes received from the peer. */
  feed(bytes: Uint8Array): void {
    const { crypto } = load();
    void this.s;
    if (bytes.length > 0) crypto.BIO_write(this.rbio, bytes, bytes.length);
  }

  /** Takes all bytes OpenSSL wants sent to the peer (possibly empty). */
  drain(): Uint8Array {
    const { crypto } = load();
    const chunks: Uint8Array[] = [];
    while (Number(crypto.BIO_ctrl_pending(this.wbio)) > 0) {
      const n = crypto.BIO_read(this.wbio, this.buf, this.buf.length);
      if (n <= 0) break;
      chunks.push(this.buf.slice(0, n));
    }
    if (chunks.length === 1) return chunks[0]!;
    const out = new Uint8Array(chunks.reduce((a, c) => a + c.length, 0));
    let o = 0;
    for (const c of chunks) {
      out.set(c, o);
      o += c.length;
    }
    return out;
  }

  private failure(r: number, what: string): TlsError | "want_read" | "want_write" | "zero" {
    const { ssl, crypto } = load();
    const err = ssl.SSL_get_error(this.s, r);
    if (err === SSL_ERROR_WANT_READ || err === SSL_ERROR_WANT_WRITE) {
      crypto.ERR_clear_error();
      return err === SSL_ERROR_WANT_WRITE && this.socket ? "want_write" : "want_read";
    }
    if (err === SSL_ERROR_ZERO_RETURN) return "zero";
    const detail = errorQueue();
    const v = Number(ssl.SSL_get_verify_result(this.s));
    if (!this.isServer && v !== 0) {
      const why = readCStr(crypto.X509_verify_cert_error_string(BigInt(v)));
      const host = this.hostName ?? "(no name)";
      const msg = v === X509_V_ERR_HOSTNAME_MISMATCH
        ? `certificate of the server does not match host name ${host}: ${why}`
        : `certificate of server ${host} not trusted: ${why}`;
      return new TlsError("verify", msg, "", v);
    }
    if (/no application protocol|no_application_protocol/i.test(detail)) {
      return new TlsError("alpn", `${what}: no common ALPN protocol`, detail);
    }
    return new TlsError("protocol", `${what} failed (SSL error ${err})`, detail);
  }

  /** Advances the handshake. Throws TlsError when it fails. */
  handshake(): TlsStep {
    const { ssl } = load();
    const r = ssl.SSL_do_handshake(this.s);
    if (r === 1) return "done";
    const f = this.failure(r, "TLS handshake");
    if (f === "want_read" || f === "want_write") return f;
    if (f === "zero") throw new TlsError("closed", "TLS handshake: peer closed the connection");
    throw f;
  }

  /**
   * Decrypted application data available so far, "want_read" when more
   * network bytes are needed, or "closed" after the peer's close_notify.
   */
  read(): Uint8Array | "want_read" | "want_write" | "closed" {
    const { ssl } = load();
    const r = ssl.SSL_read(this.s, this.buf, this.buf.length);
    if (r > 0) return this.buf.slice(0, r);
    const f = this.failure(r, "TLS read");
    if (f === "want_read" || f === "want_write") return f;
    if (f === "zero") return "closed";
    throw f;
  }

  /**
   * Encrypts application data; fetch the records with {@linkcode drain}
   * (a socket session sends them). "want_write": a socket session's send
   * buffer is full; call again with the same data later.
   */
  write(data: Uint8Array): "done" | "want_write" {
    const { ssl } = load();
    if (data.length === 0) return "done";
    const r = ssl.SSL_write(this.s, data, data.length);
    if (r === data.length) return "done";
    const f = this.failure(r, "TLS write");
    if (f === "want_write") return f;
    throw f instanceof TlsError ? f : new TlsError("protocol", "TLS write incomplete");
  }

  /** Queues a close_notify alert (then {@linkcode drain} it). */
  shutdown(): void {
    const { ssl, crypto } = load();
    ssl.SSL_shutdown(this.s);
    crypto.ERR_clear_error();
  }

  /** The negotiated ALPN protocol, or null. */
  alpn(): string | null {
    const { ssl } = load();
    ssl.SSL_get0_alpn_selected(this.s, alpnPtrBytes, alpnLenBytes);
    const p = Deno.UnsafePointer.create(alpnPtr[0]!);
    if (!p || alpnLen[0] === 0) return null;
    return decoder.decode(new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(p, alpnLen[0]!)));
  }

  /** Protocol version string, e.g. "TLSv1.3". */
  version(): string {
    const { ssl } = load();
    return readCStr(ssl.SSL_get_version(this.s));
  }

  /**
   * RFC 5705 keying material exporter (TLS 1.3: RFC 8446 §7.5).
   * @param label exporter label, e.g. "EXPORTER-network-time-security"
   * @param context context value, or null for none
   * @param length bytes wanted
   */
  exportKeyingMaterial(label: string, context: Uint8Array | null, length: number): Uint8Array {
    const { ssl } = load();
    const out = new Uint8Array(length);
    const l = encoder.encode(label);
    const ctx = context ?? new Uint8Array(0);
    const ok = ssl.SSL_export_keying_material(
      this.s,
      out,
      BigInt(length),
      l,
      BigInt(l.length),
      ctx,
      BigInt(ctx.length),
      context ? 1 : 0,
    );
    if (ok !== 1) throw new TlsError("protocol", "keying material export failed", errorQueue());
    return out;
  }

  /** Frees the OpenSSL session, or gives it back to its server context's pool (idempotent). */
  free(): void {
    if (this.ssl) {
      const p = { ssl: this.ssl, rbio: this.rbio, wbio: this.wbio, socket: this.socket };
      this.ssl = null;
      if (this.owner === undefined || !this.owner.recycle(p)) load().ssl.SSL_free(p.ssl);
    }
  }
}

/** Block-cipher modes of {@linkcode AesContext}: AES-128/256 in ECB or CBC, padding off. */
export type AesMode = "AES-128-ECB" | "AES-128-CBC" | "AES-256-ECB" | "AES-256-CBC";

/** The fetched EVP_CIPHER of each mode (fetched once). */
const aesCiphers = new Map<AesMode, Deno.PointerObject>();
/** Output length of EVP_EncryptUpdate (ignored: padding is off, output = input). */
const outLen = new Uint8Array(new ArrayBuffer(16)); // an ArrayBuffer of its own: off the JS heap
let outLenAt: Deno.PointerObject | null = null;
const ZERO_IV = new Uint8Array(16);

/**
 * FFI calls made by every {@linkcode AesContext} (key set-ups and encryptions)
 * since start: `bench/nts_cost.ts` divides it by the requests it served.
 */
export const aesCallCount = { calls: 0 };

const aesRegistry = new FinalizationRegistry<Deno.PointerObject>((ctx) => {
  if (libs && !(libs instanceof NtsUnavailableError)) libs.crypto.EVP_CIPHER_CTX_free(ctx);
});

/**
 * One OpenSSL AES encryption context (EVP_CIPHER_CTX) in ECB or CBC mode with
 * padding off: the block primitive that the modes of lib/crypto (CMAC, AES-SIV,
 * AES-GCM-SIV) are computed from. A CBC context starts with a zero IV and
 * chains across {@linkcode encrypt} calls until {@linkcode setKey}. The context
 * is freed when the object is collected.
 */
export class AesContext {
  readonly #crypto: Libs["crypto"];
  readonly #ctx: Deno.PointerObject;
  readonly #iv: Uint8Array | null;
  /** Key length of the mode, bytes (16 or 32). */
  readonly keyLength: number;

  private constructor(crypto: Libs["crypto"], ctx: Deno.PointerObject, mode: AesMode) {
    this.#crypto = crypto;
    this.#ctx = ctx;
    this.#iv = mode.endsWith("CBC") ? ZERO_IV : null;
    this.keyLength = mode.startsWith("AES-256") ? 32 : 16;
    aesRegistry.register(this, ctx);
  }

  /**
   * A context of `mode` keyed with `key`. Throws RangeError for a key of the
   * wrong length, NtsUnavailableError without OpenSSL or its AES.
   */
  static create(mode: AesMode, key: Uint8Array): AesContext {
    const { crypto } = load();
    let cipher = aesCiphers.get(mode);
    if (cipher === undefined) {
      cipher = crypto.EVP_CIPHER_fetch(null, cstr(mode), null) ?? undefined;
      if (!cipher) throw new NtsUnavailableError(`OpenSSL has no ${mode}`);
      aesCiphers.set(mode, cipher);
    }
    const ctx = crypto.EVP_CIPHER_CTX_new();
    if (!ctx) throw new NtsUnavailableError(`${mode}: no cipher context`);
    const c = new AesContext(crypto, ctx, mode);
    c.#checkKey(key);
    if (crypto.EVP_EncryptInit_ex2(ctx, cipher, key, c.#iv, null) !== 1) {
      throw new NtsUnavailableError(`${mode} init failed: ${errorQueue()}`);
    }
    crypto.EVP_CIPHER_CTX_set_padding(ctx, 0);
    return c;
  }

  #checkKey(key: Uint8Array): void {
    if (key.length !== this.keyLength) {
      throw new RangeError(`AES key must be ${this.keyLength} bytes, got ${key.length}`);
    }
  }

  /**
   * Replaces the key with the first {@linkcode keyLength} bytes of `key`
   * (RangeError when shorter), reusing the context; a CBC chain restarts
   * from a zero IV.
   */
  setKey(key: Uint8Array): void {
    if (key.length < this.keyLength) this.#checkKey(key);
    aesCallCount.calls++;
    if (this.#crypto.EVP_EncryptInit_ex2(this.#ctx, null, key, this.#iv, null) !== 1) {
      throw new Error(`AES key setup failed: ${errorQueue()}`);
    }
  }

  /**
   * Encrypts `input[0, n)` (n a multiple of 16) into `output[0, n)`; `output`
   * must have room for n + 16 bytes.
   */
  encrypt(output: Uint8Array, input: Uint8Array, n: number): void {
    aesCallCount.calls++;
    this.#crypto.EVP_EncryptUpdate(this.#ctx, output, outLen, input, n);
  }

  /**
   * Encrypts `buf.bytes[0, n)` in place (n a multiple of 16, at most
   * `buf.bytes.length - 16`, RangeError otherwise: OpenSSL writes by address):
   * the fast form, passing addresses.
   */
  encryptInPlace(buf: AesBuffer, n: number): void {
    if ((n & 15) !== 0 || n < 0 || n + 16 > buf.bytes.length) {
      throw new RangeError(`AES in place: ${n} bytes in a buffer of ${buf.bytes.length}`);
    }
    aesCallCount.calls++;
    const p = buf.address;
    this.#crypto.EVP_EncryptUpdate_at(this.#ctx, p, outLenAt, p, n);
  }
}

/**
 * Memory that {@linkcode AesContext.encryptInPlace} hands to OpenSSL by
 * address: allocated once, off the JS heap (it never moves), as bytes and as
 * 32-bit words (host order) over the same memory.
 */
export class AesBuffer {
  readonly bytes: Uint8Array;
  readonly words: Int32Array;
  /** The address of `bytes[0]` (for ffi/ only). */
  readonly address: Deno.PointerObject;

  /** `size` bytes (rounded up to a multiple of 16). Throws NtsUnavailableError without OpenSSL. */
  constructor(size: number) {
    load();
    const buffer = new ArrayBuffer((Math.max(16, size) + 15) & ~15);
    this.bytes = new Uint8Array(buffer);
    this.words = new Int32Array(buffer);
    this.address = Deno.UnsafePointer.of(this.bytes)!;
    outLenAt ??= Deno.UnsafePointer.of(outLen);
  }
}
