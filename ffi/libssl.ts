/**
 * OpenSSL 3 (libssl.so.3, libcrypto.so.3) for NTS: TLS 1.3 client and server
 * sessions over memory BIOs (the caller pumps bytes between a socket and the
 * session, see `lib/io/tls_stream.ts`), ALPN, host name checks, the RFC 5705
 * keying-material exporter, and AES-SIV-CMAC-256 (RFC 5297) built on
 * OpenSSL's AES-128 (CBC for CMAC, ECB for CTR).
 *
 * The libraries are opened lazily on first use: importing this module never
 * fails. When they cannot be loaded, every entry point throws
 * {@linkcode NtsUnavailableError}; {@linkcode opensslAvailability} reports it
 * as a value.
 *
 * @example
 * ```ts
 * import { AesSivKey, opensslAvailability } from "./libssl.ts";
 * if (opensslAvailability().ok) {
 *   const k = AesSivKey.create(new Uint8Array(32));
 *   const ct = k.seal(new Uint8Array(16), new Uint8Array(4), new Uint8Array(8));
 *   k.open(new Uint8Array(16), new Uint8Array(4), ct); // the 8 plaintext bytes
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
const EVP_CTRL_AEAD_GET_TAG = 0x10;

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
  BIO_read: { parameters: ["pointer", "buffer", "i32"], result: "i32" },
  BIO_write: { parameters: ["pointer", "buffer", "i32"], result: "i32" },
  BIO_ctrl_pending: { parameters: ["pointer"], result: "usize" },
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
  EVP_CIPHER_CTX_ctrl: { parameters: ["pointer", "i32", "i32", "buffer"], result: "i32" },
  EVP_EncryptInit_ex2: {
    parameters: ["pointer", "pointer", "buffer", "buffer", "pointer"],
    result: "i32",
  },
  EVP_EncryptUpdate: {
    parameters: ["pointer", "buffer", "buffer", "buffer", "i32"],
    result: "i32",
  },
  EVP_EncryptFinal_ex: { parameters: ["pointer", "buffer", "buffer"], result: "i32" },
  EVP_CIPHER_CTX_set_padding: { parameters: ["pointer", "i32"], result: "i32" },
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
    return new TlsSession(this.ctxs[0]!, this.isServer, hostName);
  }

  /** Frees the OpenSSL contexts; sessions made earlier keep their own references. */
  free(): void {
    const { ssl } = load();
    for (const c of this.ctxs.splice(0)) ssl.SSL_CTX_free(c);
  }
}

/** Result of a step that may need more bytes from the peer. */
export type TlsStep = "done" | "want_read";

/**
 * One TLS connection as a state machine over two memory BIOs: push bytes
 * received from the network with {@linkcode feed}, send whatever
 * {@linkcode drain} returns. Nothing here blocks or touches a socket.
 */
export class TlsSession {
  private ssl: Deno.PointerObject | null;
  private readonly rbio: Deno.PointerObject;
  private readonly wbio: Deno.PointerObject;
  private readonly buf = new Uint8Array(16384);

  /** @internal use {@linkcode TlsContext.session}. */
  constructor(ctx: Deno.PointerObject, readonly isServer: boolean, readonly hostName?: string) {
    const { ssl, crypto } = load();
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

  private failure(r: number, what: string): TlsError | "want_read" | "zero" {
    const { ssl, crypto } = load();
    const err = ssl.SSL_get_error(this.s, r);
    if (err === SSL_ERROR_WANT_READ || err === SSL_ERROR_WANT_WRITE) {
      crypto.ERR_clear_error();
      return "want_read";
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
    if (f === "want_read") return "want_read";
    if (f === "zero") throw new TlsError("closed", "TLS handshake: peer closed the connection");
    throw f;
  }

  /**
   * Decrypted application data available so far, "want_read" when more
   * network bytes are needed, or "closed" after the peer's close_notify.
   */
  read(): Uint8Array | "want_read" | "closed" {
    const { ssl } = load();
    const r = ssl.SSL_read(this.s, this.buf, this.buf.length);
    if (r > 0) return this.buf.slice(0, r);
    const f = this.failure(r, "TLS read");
    if (f === "want_read") return "want_read";
    if (f === "zero") return "closed";
    throw f;
  }

  /** Encrypts application data; fetch the records with {@linkcode drain}. */
  write(data: Uint8Array): void {
    const { ssl } = load();
    if (data.length === 0) return;
    const r = ssl.SSL_write(this.s, data, data.length);
    if (r === data.length) return;
    const f = this.failure(r, "TLS write");
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
    const pp = new BigUint64Array(1);
    const len = new Uint32Array(1);
    ssl.SSL_get0_alpn_selected(this.s, new Uint8Array(pp.buffer), new Uint8Array(len.buffer));
    const p = Deno.UnsafePointer.create(pp[0]!);
    if (!p || len[0] === 0) return null;
    return decoder.decode(new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(p, len[0]!)));
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

  /** Frees the OpenSSL session (idempotent). */
  free(): void {
    if (this.ssl) {
      load().ssl.SSL_free(this.ssl);
      this.ssl = null;
    }
  }
}

let ecbCipher: Deno.PointerValue | undefined;
let sivCipher: Deno.PointerValue | undefined;
let cbcCipher: Deno.PointerValue | undefined;
const outLen = new Uint8Array(4);
const ZERO_IV = new Uint8Array(16);

/** AES-128-SIV key length in bytes: two AES-128 keys (RFC 5297 §2.2). */
export const AES_SIV_KEY_LENGTH = 32;
/** Length of the synthetic IV (the tag) prefixed to every ciphertext (RFC 5297 §2.6). */
export const AES_SIV_TAG_LENGTH = 16;

/** Associated data: one S2V component, or several in order (RFC 5297 §2.4). */
export type SivAd = Uint8Array | readonly Uint8Array[];

const sivRegistry = new FinalizationRegistry<Deno.PointerObject[]>((ctxs) => {
  if (libs && !(libs instanceof NtsUnavailableError)) {
    for (const c of ctxs) libs.crypto.EVP_CIPHER_CTX_free(c);
  }
});

/**
 * Scratch buffers every AES-SIV key shares (single-threaded): the bytes handed
 * to OpenSSL and what it returns. They grow for long inputs, never shrink.
 */
let scratchIn = new Uint8Array(2048);
let scratchOut = new Uint8Array(2048);

function scratchFor(n: number): void {
  if (scratchIn.length >= n) return;
  const size = Math.max(n, scratchIn.length * 2);
  scratchIn = new Uint8Array(size);
  scratchOut = new Uint8Array(size);
}

/** Copies `buf[at, at + n)` to the start of `scratchIn` (with room for padding). */
function copyToScratch(buf: Uint8Array, at: number, n: number): void {
  scratchFor(n + 16);
  if (n > 32) {
    scratchIn.set(buf.subarray(at, at + n));
  } else {
    for (let i = 0; i < n; i++) scratchIn[i] = buf[at + i]!;
  }
}

/** Doubling in GF(2^128) (RFC 5297 §2.3), in place. */
function dbl(b: Uint8Array): void {
  const carry = b[0]! >> 7;
  for (let i = 0; i < 15; i++) b[i] = ((b[i]! << 1) | (b[i + 1]! >> 7)) & 0xff;
  b[15] = ((b[15]! << 1) & 0xff) ^ (carry ? 0x87 : 0);
}

/**
 * AES-SIV-CMAC-256 (RFC 5297), OpenSSL's "AES-128-SIV", computed here from
 * two plain AES-128 contexts: AES-CMAC (RFC 4493) over AES-128-CBC keyed with
 * K1 for S2V, and CTR as AES-128-ECB (K2) over counter blocks. That takes a
 * few cheap FFI calls per message and no allocation, where OpenSSL's SIV
 * context costs a context copy per message (and skips the tag on an empty
 * plaintext in OpenSSL 3.0, which every NTS client request has).
 *
 * The CBC context is never reset: a CBC-MAC with a zero IV of a new message
 * is computed by XORing the previous output block (the context's chaining
 * value) into the message's first block.
 *
 * Use {@linkcode create} for a long-lived key (cookie keys) and one instance
 * with {@linkcode setKey} per message for per-client keys. The `*To` methods
 * work on (buffer, offset, length) ranges; the others allocate their result.
 * Output of sealing is tag (16 bytes) || ciphertext.
 */
export class AesSivKey {
  readonly #crypto: Libs["crypto"];
  readonly #cbc: Deno.PointerObject; // AES-128-CBC, K1, padding off
  readonly #ecb: Deno.PointerObject; // AES-128-ECB, K2, padding off
  readonly #chain = new Uint8Array(16); // last CBC output block
  readonly #k1 = new Uint8Array(16); // CMAC subkey, complete final block (RFC 4493 §2.3)
  readonly #k2 = new Uint8Array(16); // CMAC subkey, padded final block
  readonly #d0 = new Uint8Array(16); // CMAC(<zero>), the start of S2V
  readonly #d = new Uint8Array(16); // S2V accumulator
  readonly #v = new Uint8Array(16); // tag being computed, or the CTR IV
  readonly #expected = new Uint8Array(16); // tag received
  readonly #k2bytes = new Uint8Array(16);
  #k2Pending = false; // #ecb not yet keyed with #k2bytes
  readonly #cmacEmpty = new Uint8Array(16); // CMAC(<empty>): cookies' empty AD component
  #cmacEmptyKnown = false;

  private constructor(crypto: Libs["crypto"], cbc: Deno.PointerObject, ecb: Deno.PointerObject) {
    this.#crypto = crypto;
    this.#cbc = cbc;
    this.#ecb = ecb;
    sivRegistry.register(this, [cbc, ecb]);
  }

  /** Schedules a 32-byte key. Throws RangeError for another length, NtsUnavailableError. */
  static create(key: Uint8Array): AesSivKey {
    const { crypto } = load();
    if (ecbCipher === undefined) {
      ecbCipher = crypto.EVP_CIPHER_fetch(null, cstr("AES-128-ECB"), null);
      cbcCipher = crypto.EVP_CIPHER_fetch(null, cstr("AES-128-CBC"), null);
    }
    if (!ecbCipher || !cbcCipher) throw new NtsUnavailableError("OpenSSL has no AES-128");
    checkKey(key);
    const cbc = crypto.EVP_CIPHER_CTX_new()!;
    const ecb = crypto.EVP_CIPHER_CTX_new()!;
    const k = new AesSivKey(crypto, cbc, ecb);
    if (
      crypto.EVP_EncryptInit_ex2(cbc, cbcCipher, key, ZERO_IV, null) !== 1 ||
      crypto.EVP_EncryptInit_ex2(ecb, ecbCipher, key.subarray(16), null, null) !== 1
    ) {
      throw new NtsUnavailableError(`AES-128 init failed: ${errorQueue()}`);
    }
    crypto.EVP_CIPHER_CTX_set_padding(cbc, 0);
    crypto.EVP_CIPHER_CTX_set_padding(ecb, 0);
    k.#subkeys();
    return k;
  }

  /** Replaces the key (RangeError for a length other than 32), reusing the contexts. */
  setKey(key: Uint8Array): void {
    checkKey(key);
    const c = this.#crypto;
    // S2V uses K1, the leftmost half of the key; CTR uses K2 (RFC 5297 §2.6).
    // K2 is scheduled on first use: verifying an empty plaintext needs no CTR.
    this.#k2bytes.set(key.subarray(16, 32));
    this.#k2Pending = true;
    if (c.EVP_EncryptInit_ex2(this.#cbc, null, key, ZERO_IV, null) !== 1) {
      throw new Error(`AES-128 key setup failed: ${errorQueue()}`);
    }
    this.#subkeys();
  }

  /** CMAC subkeys (RFC 4493 §2.3) and CMAC(<zero>) after a key change (CBC IV is zero). */
  #subkeys(): void {
    this.#cmacEmptyKnown = false;
    this.#chain.fill(0);
    scratchIn.fill(0, 0, 16);
    const l = this.#cbcMac(16);
    this.#k1.set(l);
    dbl(this.#k1);
    this.#k2.set(this.#k1);
    dbl(this.#k2);
    scratchIn.fill(0, 0, 16);
    this.#d0.set(this.#cmacScratch(16));
  }

  /** CBC-MAC with a zero IV of `scratchIn[0, n)` (n a multiple of 16): the last block. */
  #cbcMac(n: number): Uint8Array {
    const chain = this.#chain;
    for (let i = 0; i < 16; i++) scratchIn[i]! ^= chain[i]!;
    this.#crypto.EVP_EncryptUpdate(this.#cbc, scratchOut, outLen, scratchIn, n);
    for (let i = 0; i < 16; i++) chain[i] = scratchOut[n - 16 + i]!;
    return chain;
  }

  /** AES-CMAC (RFC 4493) of `scratchIn[0, n)`; pads/XORs the final block in place. */
  #cmacScratch(n: number): Uint8Array {
    const blocks = n === 0 ? 1 : (n + 15) >> 4;
    const last = (blocks - 1) << 4;
    let sub = this.#k1;
    if (n === 0 || (n & 15) !== 0) {
      scratchIn[n] = 0x80;
      scratchIn.fill(0, n + 1, blocks << 4);
      sub = this.#k2;
    }
    for (let i = 0; i < 16; i++) scratchIn[last + i]! ^= sub[i]!;
    return this.#cbcMac(blocks << 4);
  }

  /** AES-CMAC of `buf[at, at + n)`. */
  #cmac(buf: Uint8Array, at: number, n: number): Uint8Array {
    copyToScratch(buf, at, n);
    return this.#cmacScratch(n);
  }

  /** Starts S2V (RFC 5297 §2.4). */
  #s2vStart(): void {
    this.#d.set(this.#d0);
  }

  /** Adds one S2V component (an AD component, or the nonce). */
  #s2vAdd(buf: Uint8Array, at: number, n: number): void {
    const d = this.#d;
    dbl(d);
    let m: Uint8Array;
    if (n > 0) m = this.#cmac(buf, at, n);
    else {
      // An empty component (the AD of every cookie) has a CMAC fixed per key: one AES call saved.
      if (!this.#cmacEmptyKnown) {
        this.#cmacEmpty.set(this.#cmac(buf, at, 0));
        this.#cmacEmptyKnown = true;
      }
      m = this.#cmacEmpty;
    }
    for (let i = 0; i < 16; i++) d[i]! ^= m[i]!;
  }

  /** Finishes S2V over the plaintext `buf[at, at + n)`; the result is in `#v`. */
  #s2vFinal(buf: Uint8Array, at: number, n: number): void {
    const d = this.#d;
    copyToScratch(buf, at, n);
    let m: Uint8Array;
    if (n >= 16) {
      for (let i = 0; i < 16; i++) scratchIn[n - 16 + i]! ^= d[i]!; // xorend
      m = this.#cmacScratch(n);
    } else {
      dbl(d);
      scratchIn[n] = 0x80;
      scratchIn.fill(0, n + 1, 16);
      for (let i = 0; i < 16; i++) scratchIn[i]! ^= d[i]!;
      m = this.#cmacScratch(16);
    }
    this.#v.set(m);
  }

  /** CTR (RFC 5297 §2.5) with IV `#v`: `dst[dstAt, +n) = src[srcAt, +n) ^ keystream`. */
  #ctr(src: Uint8Array, srcAt: number, n: number, dst: Uint8Array, dstAt: number): void {
    if (n === 0) return;
    if (this.#k2Pending) {
      if (this.#crypto.EVP_EncryptInit_ex2(this.#ecb, null, this.#k2bytes, null, null) !== 1) {
        throw new Error(`AES-128 key setup failed: ${errorQueue()}`);
      }
      this.#k2Pending = false;
    }
    const blocks = (n + 15) >> 4;
    scratchFor(blocks << 4);
    const q = scratchIn;
    q.set(this.#v);
    q[8]! &= 0x7f; // Q = V bitand (1^64 || 0^1 || 1^31 || 0^1 || 1^31)
    q[12]! &= 0x7f;
    // Counter blocks Q, Q+1, ...: with bit 31 cleared the low 32 bits cannot
    // carry into the rest for fewer than 2^31 blocks.
    const low = ((q[12]! << 24) | (q[13]! << 16) | (q[14]! << 8) | q[15]!) >>> 0;
    for (let b = 1; b < blocks; b++) {
      const o = b << 4;
      for (let i = 0; i < 12; i++) q[o + i] = q[i]!;
      const c = low + b;
      q[o + 12] = c >>> 24;
      q[o + 13] = (c >>> 16) & 0xff;
      q[o + 14] = (c >>> 8) & 0xff;
      q[o + 15] = c & 0xff;
    }
    this.#crypto.EVP_EncryptUpdate(this.#ecb, scratchOut, outLen, q, blocks << 4);
    for (let i = 0; i < n; i++) dst[dstAt + i] = src[srcAt + i]! ^ scratchOut[i]!;
  }

  /**
   * Seals `pt[ptAt, +ptLen)` with one AD component `ad[adAt, +adLen)` and the
   * nonce `nonce[nonceAt, +nonceLen)` (none when nonceLen is 0): writes the
   * tag at `out[outAt]` and the ciphertext after it. `out` may be `pt` with
   * `outAt = ptAt - 16` (in place); the AD and nonce must not overlap the output.
   */
  sealTo(
    ad: Uint8Array,
    adAt: number,
    adLen: number,
    nonce: Uint8Array,
    nonceAt: number,
    nonceLen: number,
    pt: Uint8Array,
    ptAt: number,
    ptLen: number,
    out: Uint8Array,
    outAt: number,
  ): void {
    this.#s2vStart();
    this.#s2vAdd(ad, adAt, adLen);
    if (nonceLen > 0) this.#s2vAdd(nonce, nonceAt, nonceLen);
    this.#s2vFinal(pt, ptAt, ptLen);
    this.#ctr(pt, ptAt, ptLen, out, outAt + AES_SIV_TAG_LENGTH);
    out.set(this.#v, outAt);
  }

  /**
   * Opens `sealed[sealedAt, +sealedLen)` (tag || ciphertext) with one AD
   * component and a nonce (as {@linkcode sealTo}): writes the plaintext at
   * `out[outAt]` and returns whether the tag verified. On failure `out`
   * holds garbage: never use it. `out` may be `sealed` with
   * `outAt = sealedAt + 16` (in place).
   */
  openTo(
    ad: Uint8Array,
    adAt: number,
    adLen: number,
    nonce: Uint8Array,
    nonceAt: number,
    nonceLen: number,
    sealed: Uint8Array,
    sealedAt: number,
    sealedLen: number,
    out: Uint8Array,
    outAt: number,
  ): boolean {
    if (sealedLen < AES_SIV_TAG_LENGTH) return false;
    const n = sealedLen - AES_SIV_TAG_LENGTH;
    const expected = this.#expected;
    for (let i = 0; i < 16; i++) expected[i] = sealed[sealedAt + i]!;
    this.#v.set(expected);
    this.#ctr(sealed, sealedAt + AES_SIV_TAG_LENGTH, n, out, outAt);
    this.#s2vStart();
    this.#s2vAdd(ad, adAt, adLen);
    if (nonceLen > 0) this.#s2vAdd(nonce, nonceAt, nonceLen);
    this.#s2vFinal(out, outAt, n);
    let diff = 0;
    for (let i = 0; i < 16; i++) diff |= this.#v[i]! ^ expected[i]!;
    return diff === 0;
  }

  /** S2V (RFC 5297 §2.4) over the AD components, nonce (unless empty) and final string. */
  s2v(ad: SivAd, nonce: Uint8Array, last: Uint8Array): Uint8Array {
    this.#s2vStart();
    for (const c of components(ad)) this.#s2vAdd(c, 0, c.length);
    if (nonce.length > 0) this.#s2vAdd(nonce, 0, nonce.length);
    this.#s2vFinal(last, 0, last.length);
    return this.#v.slice();
  }

  /**
   * Encrypts. The S2V components are the AD component(s), then `nonce`
   * unless it is empty (RFC 5297 §3: the nonce is the last AD component).
   */
  seal(nonce: Uint8Array, ad: SivAd, plaintext: Uint8Array): Uint8Array {
    const out = new Uint8Array(AES_SIV_TAG_LENGTH + plaintext.length);
    this.s2v(ad, nonce, plaintext);
    this.#ctr(plaintext, 0, plaintext.length, out, AES_SIV_TAG_LENGTH);
    out.set(this.#v);
    return out;
  }

  /** Decrypts and authenticates; null when the tag does not verify. */
  open(nonce: Uint8Array, ad: SivAd, sealed: Uint8Array): Uint8Array | null {
    if (sealed.length < AES_SIV_TAG_LENGTH) return null;
    const out = new Uint8Array(sealed.length - AES_SIV_TAG_LENGTH);
    const tag = sealed.slice(0, AES_SIV_TAG_LENGTH);
    this.#v.set(tag);
    this.#ctr(sealed, AES_SIV_TAG_LENGTH, out.length, out, 0);
    const v = this.s2v(ad, nonce, out);
    let diff = 0;
    for (let i = 0; i < 16; i++) diff |= v[i]! ^ tag[i]!;
    return diff === 0 ? out : null;
  }
}

function checkKey(key: Uint8Array): void {
  if (key.length !== AES_SIV_KEY_LENGTH) {
    throw new RangeError(`AES-SIV-CMAC-256 key must be 32 bytes, got ${key.length}`);
  }
}

function components(ad: SivAd): readonly Uint8Array[] {
  return ad instanceof Uint8Array ? [ad] : ad;
}

/** One re-keyed instance for the one-shot functions (keys change per message). */
let oneShot: AesSivKey | undefined;

function oneShotKey(key: Uint8Array): AesSivKey {
  if (oneShot === undefined) {
    oneShot = AesSivKey.create(key);
  } else {
    oneShot.setKey(key);
  }
  return oneShot;
}

/** One-shot AES-SIV seal (a shared {@linkcode AesSivKey}, re-keyed). */
export function aesSivSeal(
  key: Uint8Array,
  nonce: Uint8Array,
  ad: SivAd,
  plaintext: Uint8Array,
): Uint8Array {
  return oneShotKey(key).seal(nonce, ad, plaintext);
}

/** One-shot AES-SIV open; null when authentication fails. */
export function aesSivOpen(
  key: Uint8Array,
  nonce: Uint8Array,
  ad: SivAd,
  sealed: Uint8Array,
): Uint8Array | null {
  return oneShotKey(key).open(nonce, ad, sealed);
}

/**
 * OpenSSL's own AES-128-SIV seal (EVP "AES-128-SIV"), slow and kept as a
 * reference for tests: non-empty plaintext only (OpenSSL 3.0 skips the tag
 * on an empty one).
 */
export function opensslAesSivSeal(
  key: Uint8Array,
  nonce: Uint8Array,
  ad: SivAd,
  plaintext: Uint8Array,
): Uint8Array {
  const { crypto } = load();
  checkKey(key);
  if (plaintext.length === 0) throw new RangeError("OpenSSL 3.0 SIV needs a plaintext");
  sivCipher ??= crypto.EVP_CIPHER_fetch(null, cstr("AES-128-SIV"), null);
  const cipher = sivCipher;
  if (!cipher) throw new NtsUnavailableError("OpenSSL has no AES-128-SIV");
  const ctx = crypto.EVP_CIPHER_CTX_new()!;
  try {
    const out = new Uint8Array(AES_SIV_TAG_LENGTH + plaintext.length);
    const body = out.subarray(AES_SIV_TAG_LENGTH);
    const ok = crypto.EVP_EncryptInit_ex2(ctx, cipher, key, null, null) === 1 &&
      components(ad).every((c) => crypto.EVP_EncryptUpdate(ctx, null, outLen, c, c.length) === 1) &&
      (nonce.length === 0 ||
        crypto.EVP_EncryptUpdate(ctx, null, outLen, nonce, nonce.length) === 1) &&
      crypto.EVP_EncryptUpdate(ctx, body, outLen, plaintext, plaintext.length) === 1 &&
      crypto.EVP_EncryptFinal_ex(ctx, body, outLen) === 1 &&
      crypto.EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, AES_SIV_TAG_LENGTH, out) === 1;
    if (!ok) throw new Error(`AES-128-SIV failed: ${errorQueue()}`);
    return out;
  } finally {
    crypto.EVP_CIPHER_CTX_free(ctx);
  }
}

/** The one AES-128-ECB context behind {@linkcode aes128Block}, and whose key it holds. */
let blockCtx: Deno.PointerObject | undefined;
let blockOwner: object | undefined;
const blockOut = new Uint8Array(32);

/**
 * AES-128 encryption of single blocks under `key` (16 bytes), for AEADs
 * computed in lib/nts from AES blocks (AES-128-GCM-SIV, `lib/nts/gcm_siv.ts`).
 * The returned functions share one OpenSSL context, re-keyed when another
 * key is used. Throws RangeError for a key of another length,
 * NtsUnavailableError without OpenSSL.
 */
export function aes128Block(key: Uint8Array): (block: Uint8Array) => Uint8Array {
  if (key.length !== 16) throw new RangeError(`AES-128 key must be 16 bytes, got ${key.length}`);
  const { crypto } = load();
  ecbCipher ??= crypto.EVP_CIPHER_fetch(null, cstr("AES-128-ECB"), null);
  if (!ecbCipher) throw new NtsUnavailableError("OpenSSL has no AES-128");
  if (blockCtx === undefined) {
    blockCtx = crypto.EVP_CIPHER_CTX_new()!;
    if (crypto.EVP_EncryptInit_ex2(blockCtx, ecbCipher, key, null, null) !== 1) {
      throw new NtsUnavailableError(`AES-128 init failed: ${errorQueue()}`);
    }
    crypto.EVP_CIPHER_CTX_set_padding(blockCtx, 0);
  }
  const own = key.slice();
  const owner = {};
  const ctx = blockCtx;
  return (block: Uint8Array): Uint8Array => {
    if (blockOwner !== owner) {
      if (crypto.EVP_EncryptInit_ex2(ctx, null, own, null, null) !== 1) {
        throw new Error(`AES-128 key setup failed: ${errorQueue()}`);
      }
      blockOwner = owner;
    }
    crypto.EVP_EncryptUpdate(ctx, blockOut, outLen, block, 16);
    return blockOut.slice(0, 16);
  };
}
