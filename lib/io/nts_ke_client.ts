/**
 * NTS-KE client (RFC 8915 §4): connects to host:ntsport over TCP, does TLS 1.3
 * with ALPN "ntske/1", SNI and certificate checks for the host name, sends the
 * request, reads the response and exports the NTP keys (RFC 8915 §5.1).
 *
 * @example
 * ```ts
 * import { ntsKeExchange } from "./nts_ke_client.ts";
 * const r = await ntsKeExchange({ host: "localhost", port: 4460, caFiles: ["cert.pem"] });
 * r.cookies.length; // 8 from chronyd
 * ```
 * @module
 */

import { TlsContext, TlsError } from "../../ffi/libssl.ts";
import {
  buildClientRequest,
  completeMessageLength,
  exporterContext,
  NTS_EXPORTER_LABEL,
  NTS_KE_ALPN,
  NTS_KE_PORT,
  parseServerResponse,
} from "../nts/ke_records.ts";
import { AEAD_AES_SIV_CMAC_256, aeadById } from "../nts/siv.ts";
import { TlsStream } from "./tls_stream.ts";
import { isOsError } from "./os_error.ts";

/** NTP's port, used when the NTS-KE server names none. RFC 5905 §7.2. */
const NTP_PORT = 123;

/** The network side of an NTS-KE exchange failed (connect, timeout). */
export class NtsKeTransportError extends Error {
  override name = "NtsKeTransportError";
  /**
   * `reason`: the system's words for a failed connect ("Connection refused"),
   * or for a handshake the server ended without a TLS answer, chronyd 4.3's
   * (GnuTLS) words: "The TLS connection was non-properly terminated." (closed)
   * or "Error in the pull function." (reset).
   */
  constructor(
    readonly kind: "connect" | "timeout" | "handshake",
    message: string,
    readonly reason = "",
  ) {
    super(message);
  }
}

/**
 * `ntstrustedcerts` accepts a file or a directory: a directory stands for the
 * regular files in it (sorted, so the order is stable).
 */
export function expandCaPaths(paths: readonly string[]): string[] {
  const out: string[] = [];
  for (const p of paths) {
    let isDir = false;
    try {
      isDir = Deno.statSync(p).isDirectory;
    } catch (e) {
      if (!isOsError(e)) throw e; // missing: let OpenSSL report it with its name
    }
    if (!isDir) {
      out.push(p);
      continue;
    }
    const files = [...Deno.readDirSync(p)].filter((e) => e.isFile).map((e) => `${p}/${e.name}`);
    out.push(...files.sort());
  }
  return out;
}

/** Options of one NTS-KE exchange. */
export interface NtsKeClientOptions {
  /** Server name: checked against the certificate and sent as SNI. */
  host: string;
  /** NTS-KE port (chrony's `ntsport`), default 4460. */
  port?: number;
  /** Address to connect to when it differs from `host` (e.g. resolved already). */
  address?: string;
  /** Trusted CA files or directories of PEM files (`ntstrustedcerts`). */
  caFiles?: readonly string[];
  /** Trust the system CAs too; false with `nosystemcert`. Default true. */
  systemCerts?: boolean;
  /** Do not check certificate validity times (`nocerttimecheck`). */
  noCertTimeCheck?: boolean;
  /** A prepared client context (then the certificate options above are ignored). */
  context?: TlsContext;
  /** Whole exchange time limit, milliseconds. Default 5000. */
  timeoutMs?: number;
  /** AEAD ids to offer (`ntsaeads`; the daemon's default is 30, 15), default [15]. */
  aeads?: readonly number[];
  /** NTP port when the server names none (the source's `port`), default 123. */
  ntpPort?: number;
}

/** What the client takes away from NTS-KE. */
export interface NtsKeResult {
  /** Client-to-server key. */
  c2sKey: Uint8Array;
  /** Server-to-client key. */
  s2cKey: Uint8Array;
  /** Cookies for NTP requests. */
  cookies: Uint8Array[];
  /** NTP server (the KE host unless the server named another). */
  server: string;
  /** NTP port (123 unless the server named another). */
  port: number;
  /** AEAD id chosen by the server. */
  aead: number;
}

/**
 * Runs one NTS-KE exchange. Throws TlsError (certificate, ALPN, TLS),
 * NtsKeError (bad or refused response), NtsKeTransportError, or
 * NtsUnavailableError.
 */
export async function ntsKeExchange(options: NtsKeClientOptions): Promise<NtsKeResult> {
  const aeads = options.aeads ?? [AEAD_AES_SIV_CMAC_256];
  const port = options.port ?? NTS_KE_PORT;
  const ownContext = options.context === undefined;
  const ctx = options.context ?? TlsContext.client({
    alpn: [NTS_KE_ALPN],
    ...(options.caFiles ? { caFiles: expandCaPaths(options.caFiles) } : {}),
    ...(options.systemCerts !== undefined ? { systemCerts: options.systemCerts } : {}),
    ...(options.noCertTimeCheck ? { noCertTimeCheck: true } : {}),
  });
  let conn: Deno.TcpConn;
  try {
    conn = await Deno.connect({ hostname: options.address ?? options.host, port });
    conn.setNoDelay(true);
  } catch (e) {
    if (ownContext) ctx.free();
    const text = (e as Error).message;
    throw new NtsKeTransportError(
      "connect",
      `cannot connect to NTS-KE server ${options.host}:${port}: ${text}`,
      text.replace(/ \(os error \d+\).*$/s, ""),
    );
  }
  const tls = new TlsStream(conn, ctx.session(options.host));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    tls.abort();
  }, options.timeoutMs ?? 5000);
  try {
    try {
      await tls.handshake();
    } catch (e) {
      const closed = e instanceof TlsError && e.kind === "closed";
      if (timedOut || !(closed || e instanceof Deno.errors.ConnectionReset)) throw e;
      throw new NtsKeTransportError(
        "handshake",
        `TLS handshake with ${options.host}:${port} failed: ${(e as Error).message}`,
        closed ? "The TLS connection was non-properly terminated." : "Error in the pull function.",
      );
    }
    if (tls.session.alpn() !== NTS_KE_ALPN) {
      throw new TlsError("alpn", `NTS-KE server ${options.host} did not select ${NTS_KE_ALPN}`);
    }
    // record 1024 offered: the server echoes it when it derives RFC 8915's keys for 30
    await tls.write(buildClientRequest({ aeads, compliant128gcm: aeads.includes(30) }));
    const msg = await tls.readMessage(completeMessageLength);
    const res = parseServerResponse(msg, { aeads });
    const keyLength = aeadById(res.aead)?.keyLength ?? 32;
    const compliant = res.compliant128gcm === true;
    const c2sKey = tls.session.exportKeyingMaterial(
      NTS_EXPORTER_LABEL,
      exporterContext(res.aead, "c2s", compliant),
      keyLength,
    );
    const s2cKey = tls.session.exportKeyingMaterial(
      NTS_EXPORTER_LABEL,
      exporterContext(res.aead, "s2c", compliant),
      keyLength,
    );
    return {
      c2sKey,
      s2cKey,
      cookies: res.cookies,
      server: res.server ?? options.host,
      port: res.port ?? options.ntpPort ?? NTP_PORT,
      aead: res.aead,
    };
  } catch (e) {
    if (timedOut) {
      throw new NtsKeTransportError(
        "timeout",
        `NTS-KE with ${options.host}:${port} timed out`,
      );
    }
    throw e;
  } finally {
    clearTimeout(timer);
    await tls.close();
    if (ownContext) ctx.free();
  }
}
