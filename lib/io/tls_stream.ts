/**
 * A TLS session from `ffi/libssl.ts` driven over a Deno TCP connection:
 * bytes OpenSSL produces are written to the socket, bytes read from the socket
 * are fed to OpenSSL. Used by the NTS-KE client (the server lets OpenSSL use
 * its sockets itself: `nts_ke_server.ts`).
 *
 * @example
 * ```ts
 * import { TlsContext } from "../../ffi/libssl.ts";
 * import { TlsStream } from "./tls_stream.ts";
 * const ctx = TlsContext.client({ alpn: ["ntske/1"] });
 * const conn = await Deno.connect({ hostname: "time.example", port: 4460 });
 * const tls = new TlsStream(conn, ctx.session("time.example"));
 * await tls.handshake();
 * ```
 * @module
 */

import { TlsError, type TlsSession } from "../../ffi/libssl.ts";
import { isOsError } from "./os_error.ts";

/** What the TLS pump needs of a connection (a `Deno.Conn`, or `lib/io/tcp.ts`'s `TcpConn`). */
export type StreamConn = Pick<Deno.Conn, "read" | "write" | "close">;

/** Receive buffers of finished streams, reused (no 16 KiB allocation per connection). */
const bufferPool: Uint8Array[] = [];
const BUFFER_POOL = 64;

/** A TLS session pumped over a TCP connection. */
export class TlsStream {
  private readonly netBuf = bufferPool.pop() ?? new Uint8Array(16384);
  private closed = false;
  /** A read into `netBuf` is in flight (then the buffer is not reused at close). */
  private reading = false;

  constructor(readonly conn: StreamConn, readonly session: TlsSession) {}

  /** Sends whatever OpenSSL has queued. */
  private async flush(): Promise<void> {
    const out = this.session.drain();
    let off = 0;
    while (off < out.length) off += await this.conn.write(out.subarray(off));
  }

  /** Reads once from the socket into OpenSSL; false on end of stream. */
  private async fill(): Promise<boolean> {
    let n: number | null;
    try {
      this.reading = true;
      n = await this.conn.read(this.netBuf);
      this.reading = false;
    } catch (e) {
      if (this.closed) return false;
      throw e;
    }
    if (n === null) return false;
    this.session.feed(this.netBuf.subarray(0, n));
    return true;
  }

  /** Completes the TLS handshake. Throws TlsError. */
  async handshake(): Promise<void> {
    for (;;) {
      let step;
      try {
        step = this.session.handshake();
      } catch (e) {
        // Let the peer see our alert before we fail.
        await this.flush().catch(() => {});
        throw e;
      }
      await this.flush();
      if (step === "done") return;
      if (!(await this.fill())) {
        throw new TlsError("closed", "connection closed during the TLS handshake");
      }
    }
  }

  /** Encrypts and sends `data`. */
  async write(data: Uint8Array): Promise<void> {
    this.session.write(data);
    await this.flush();
  }

  /**
   * Reads application data until `complete(buffer)` returns the length of a
   * whole message, and returns that message. Throws TlsError("closed") when
   * the peer closes first.
   */
  async readMessage(complete: (buffer: Uint8Array) => number | null): Promise<Uint8Array> {
    let buf = new Uint8Array(0);
    for (;;) {
      const r = this.session.read();
      if (r instanceof Uint8Array) {
        const next = new Uint8Array(buf.length + r.length);
        next.set(buf);
        next.set(r, buf.length);
        buf = next;
        const len = complete(buf);
        if (len !== null) return buf.subarray(0, len);
        continue;
      }
      await this.flush();
      if (r === "closed" || !(await this.fill())) {
        throw new TlsError("closed", "connection closed before a complete message");
      }
    }
  }

  /** Sends close_notify (best effort), closes the socket and frees the session. */
  async close(): Promise<void> {
    if (this.closed) return;
    try {
      this.session.shutdown();
      await this.flush();
    } catch (e) {
      if (!(e instanceof TlsError || isOsError(e))) throw e; // the peer may already be gone
    }
    this.abort();
  }

  /** Closes the socket at once (e.g. on a timeout) and frees the session. */
  abort(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.conn.close();
    } catch (e) {
      if (!isOsError(e)) throw e; // already closed
    }
    this.session.free();
    if (!this.reading && bufferPool.length < BUFFER_POOL) bufferPool.push(this.netBuf);
  }
}
