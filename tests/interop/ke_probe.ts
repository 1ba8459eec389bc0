/**
 * A raw NTS-KE client for tests: does TLS 1.3 with horae's own TLS stack
 * (ffi/libssl.ts, lib/io/tls_stream.ts), offers the ALPN list it is given
 * (possibly none or a wrong one), sends arbitrary bytes and reports what the
 * server did: the handshake failed, it closed without answering, or it
 * answered with which records. Used by the differential NTS-KE test to send
 * the same requests to horae's server and to the real chronyd's.
 *
 * @module
 */
import { TlsContext } from "../../ffi/libssl.ts";
import { TlsStream } from "../../lib/io/tls_stream.ts";
import { type KeRecord, RecordType } from "../../lib/nts/ke_records.ts";

/** What one NTS-KE session came to. */
export interface KeProbeResult {
  /** The TLS handshake completed. */
  handshake: boolean;
  /** ALPN protocol the server selected (null: none). */
  alpn: string | null;
  /** Application bytes received before the server closed (or the time limit). */
  bytes: Uint8Array;
  /** The server closed the connection (rather than the time limit ending the wait). */
  closed: boolean;
  /** Milliseconds from the request to the end of the session (for diagnosis only). */
  ms: number;
}

/** Options of {@link probeKe}. */
export interface KeProbeOptions {
  port: number;
  /** Trusted certificate of the server (a self-signed one for localhost). */
  caFile: string;
  /** ALPN protocols to offer; [] offers none. */
  alpn: readonly string[];
  /** Bytes to send once the handshake is done (in one TLS write). */
  request: Uint8Array;
  /** More bytes sent in a second TLS write, 100 ms after the first. */
  more?: Uint8Array;
  /** Whole session limit, milliseconds. Default 3000. */
  timeoutMs?: number;
}

/** Runs one session. Never throws for what the server does. */
export async function probeKe(options: KeProbeOptions): Promise<KeProbeResult> {
  const ctx = TlsContext.client({
    ...(options.alpn.length > 0 ? { alpn: options.alpn } : {}),
    caFiles: [options.caFile],
    systemCerts: false,
  });
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: options.port });
  const tls = new TlsStream(conn, ctx.session("localhost"));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    tls.abort();
  }, options.timeoutMs ?? 3000);
  const result: KeProbeResult = {
    handshake: false,
    alpn: null,
    bytes: new Uint8Array(0),
    closed: false,
    ms: 0,
  };
  let start = performance.now();
  try {
    await tls.handshake();
    result.handshake = true;
    result.alpn = tls.session.alpn();
    start = performance.now();
    await tls.write(options.request);
    const more = options.more;
    if (more) {
      setTimeout(() => tls.write(more).catch(() => {}), 100);
    }
    // Collect everything until the server closes: the completion function never completes.
    await tls.readMessage((buf) => {
      result.bytes = buf.slice();
      return null;
    });
  } catch {
    result.closed = !timedOut;
  } finally {
    result.ms = Math.round(performance.now() - start);
    clearTimeout(timer);
    await tls.close();
    ctx.free();
  }
  return result;
}

/** Records of a response, tolerant of junk (a trailing partial record is dropped). */
export function splitRecords(bytes: Uint8Array): KeRecord[] {
  const out: KeRecord[] = [];
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let o = 0;
  while (o + 4 <= bytes.length) {
    const w = v.getUint16(o), len = v.getUint16(o + 2);
    if (o + 4 + len > bytes.length) break;
    out.push({
      type: w & 0x7fff,
      critical: (w & 0x8000) !== 0,
      body: bytes.slice(o + 4, o + 4 + len),
    });
    o += 4 + len;
  }
  return out;
}

function u16s(b: Uint8Array): number[] {
  const out: number[] = [];
  for (let i = 0; i + 1 < b.length; i += 2) out.push((b[i]! << 8) | b[i + 1]!);
  return out;
}

/**
 * A comparable one-line summary of an outcome, e.g. `tls-failed`, `closed`,
 * `ERROR(1)`, or `NEXT(0)! AEAD(15)! COOKIE×8/100 PORT!(11123) EOM!`
 * (`!` marks a critical record).
 */
export function describeOutcome(r: KeProbeResult): string {
  if (!r.handshake) return "tls-failed";
  if (r.bytes.length === 0) return r.closed ? "closed" : "silent";
  const recs = splitRecords(r.bytes);
  const parts: string[] = [];
  let i = 0;
  while (i < recs.length) {
    const rec = recs[i]!;
    const bang = rec.critical ? "!" : "";
    if (rec.type === RecordType.NEW_COOKIE) {
      let n = 0;
      const lens = new Set<number>();
      while (i < recs.length && recs[i]!.type === RecordType.NEW_COOKIE) {
        lens.add(recs[i]!.body.length);
        n++;
        i++;
      }
      parts.push(`COOKIE${bang}x${n}/${[...lens].join(",")}`);
      continue;
    }
    const name: Record<number, string> = {
      0: "EOM",
      1: "NEXT",
      2: "ERROR",
      3: "WARNING",
      4: "AEAD",
      6: "SERVER",
      7: "PORT",
    };
    const label = name[rec.type] ?? `TYPE${rec.type}`;
    const body = rec.type === RecordType.NTPV4_SERVER
      ? new TextDecoder().decode(rec.body)
      : rec.type === RecordType.END_OF_MESSAGE
      ? ""
      : u16s(rec.body).join(",");
    parts.push(rec.type === RecordType.END_OF_MESSAGE ? `EOM${bang}` : `${label}${bang}(${body})`);
    i++;
  }
  const used = recs.reduce((a, x) => a + 4 + x.body.length, 0);
  if (used !== r.bytes.length) parts.push(`+${r.bytes.length - used}junk`);
  return parts.join(" ");
}
