/**
 * A small, bounded, read-only HTTP/1.1 server on `Deno.listen` (horae's
 * `httpport`). Chosen over `Deno.serve`, which offers no bound on the number
 * of connections, the size of a request head or the time a client may take
 * (docs/ARCHITECTURE.md "lib/http"). Rules:
 * - at most `maxConnections` connections at once; one more is answered 503
 *   and closed at once;
 * - the request head must fit in `maxRequestBytes` (else 431) and the whole
 *   exchange end within `timeoutMs` (else the connection is closed);
 * - GET and HEAD only (405 with `Allow`); a request body is not read; one
 *   request per connection (`Connection: close`);
 * - clients outside `allowed` get nothing: the connection is closed unanswered
 *   (as chronyd drops denied command packets).
 *
 * @example
 * ```ts
 * import { startHttpServer } from "./server.ts";
 * async function serveHi() {
 *   const s = startHttpServer({
 *     addresses: ["127.0.0.1"], port: 8080, allowed: () => true,
 *     handle: () => ({ status: 200, type: "text/plain", body: "hi\n" }),
 *   });
 *   await s.close();
 * }
 * ```
 * @module
 */

import { isOsError } from "../io/os_error.ts";

/** What a handler returns. */
export interface HttpResponse {
  status: number;
  type: string;
  body: string | Uint8Array;
  headers?: Record<string, string>;
}

/** A parsed request head. */
export interface HttpRequest {
  method: "GET" | "HEAD";
  /** Path without the query. */
  path: string;
  query: URLSearchParams;
  remote: string;
}

/** Options of {@linkcode startHttpServer}. */
export interface HttpServerOptions {
  addresses: string[];
  port: number;
  /** Access rule on the client's address (httpallow/httpdeny). */
  allowed(address: string): boolean;
  handle(req: HttpRequest): HttpResponse | Promise<HttpResponse>;
  /** Default 16. */
  maxConnections?: number;
  /** Default 8192. */
  maxRequestBytes?: number;
  /** Default 5000 ms: the whole exchange (head in, response out). */
  timeoutMs?: number;
  log?(message: string): void;
}

/** Counters of the server. */
export interface HttpStats {
  answered: number;
  rejected: number;
}

/** A running server. */
export interface HttpServer {
  readonly stats: HttpStats;
  /** Addresses actually listened on. */
  readonly listening: string[];
  close(): Promise<void>;
}

const REASON: Record<number, string> = {
  200: "OK",
  400: "Bad Request",
  404: "Not Found",
  405: "Method Not Allowed",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  503: "Service Unavailable",
  505: "HTTP Version Not Supported",
};

const enc = new TextEncoder();

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let off = 0; off < bytes.length;) off += await conn.write(bytes.subarray(off));
}

function responseBytes(r: HttpResponse, head: boolean): Uint8Array {
  const body = typeof r.body === "string" ? enc.encode(r.body) : r.body;
  const headers: Record<string, string> = {
    "Content-Type": r.type,
    "Content-Length": String(body.length),
    "Connection": "close",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    ...(r.headers ?? {}),
  };
  let text = `HTTP/1.1 ${r.status} ${REASON[r.status] ?? "Status"}\r\n`;
  for (const [k, v] of Object.entries(headers)) text += `${k}: ${v}\r\n`;
  const headBytes = enc.encode(text + "\r\n");
  if (head) return headBytes;
  const out = new Uint8Array(headBytes.length + body.length);
  out.set(headBytes);
  out.set(body, headBytes.length);
  return out;
}

/** Closes a connection or listener that may be closed already (BadResource). */
function closeQuietly(c: { close(): void }): void {
  try {
    c.close();
  } catch (e) {
    if (!isOsError(e)) throw e; // already closed (by the timer or close()): nothing to do
  }
}

function plain(status: number, text: string, headers?: Record<string, string>): HttpResponse {
  return {
    status,
    type: "text/plain; charset=utf-8",
    body: text + "\n",
    ...(headers ? { headers } : {}),
  };
}

/** Index of "\r\n\r\n" in buf[0..len), or -1. */
function headEnd(buf: Uint8Array, len: number): number {
  for (let i = 3; i < len; i++) {
    if (buf[i] === 10 && buf[i - 1] === 13 && buf[i - 2] === 10 && buf[i - 3] === 13) {
      return i + 1;
    }
  }
  return -1;
}

/** Parses a request head; an error response when it is not a GET/HEAD we serve. */
export function parseHead(text: string, remote: string): HttpRequest | HttpResponse {
  const line = text.split("\r\n", 1)[0] ?? "";
  const m = /^([A-Z]+) (\S+) HTTP\/(\d)\.(\d)$/.exec(line);
  if (!m) return plain(400, "bad request line");
  if (m[3] !== "1") return plain(505, "HTTP/1.x only");
  const method = m[1]!;
  if (method !== "GET" && method !== "HEAD") {
    return plain(405, "read-only: GET and HEAD only", { Allow: "GET, HEAD" });
  }
  const target = m[2]!;
  if (!target.startsWith("/")) return plain(400, "origin-form target only");
  const q = target.indexOf("?");
  let path: string;
  try {
    path = decodeURIComponent(q < 0 ? target : target.slice(0, q));
  } catch (e) {
    if (!(e instanceof URIError)) throw e;
    return plain(400, "bad path"); // a malformed %-escape (decodeURIComponent's only error)
  }
  return {
    method,
    path,
    query: new URLSearchParams(q < 0 ? "" : target.slice(q + 1)),
    remote,
  };
}

/** Starts listening on every address (the ones that fail are logged and skipped). */
export function startHttpServer(o: HttpServerOptions): HttpServer {
  const maxConnections = o.maxConnections ?? 16;
  const maxRequestBytes = o.maxRequestBytes ?? 8192;
  const timeoutMs = o.timeoutMs ?? 5000;
  const stats: HttpStats = { answered: 0, rejected: 0 };
  const listeners: Deno.TcpListener[] = [];
  const listening: string[] = [];
  for (const hostname of o.addresses) {
    try {
      listeners.push(Deno.listen({ hostname, port: o.port, transport: "tcp" }));
      listening.push(hostname);
    } catch (e) {
      o.log?.(`Could not open HTTP socket on ${hostname} port ${o.port} : ${(e as Error).message}`);
    }
  }
  const active = new Set<Deno.Conn>();
  let closing = false;

  async function serve(conn: Deno.Conn): Promise<void> {
    const remote = (conn.remoteAddr as Deno.NetAddr).hostname;
    const timer = setTimeout(() => {
      closeQuietly(conn);
    }, timeoutMs);
    try {
      if (!o.allowed(remote)) {
        stats.rejected++;
        return;
      }
      const buf = new Uint8Array(maxRequestBytes);
      let len = 0, end = -1;
      while (end < 0) {
        if (len === buf.length) {
          stats.rejected++;
          await writeAll(conn, responseBytes(plain(431, "request head too large"), false));
          return;
        }
        const n = await conn.read(buf.subarray(len));
        if (n === null) return;
        len += n;
        end = headEnd(buf, len);
      }
      const parsed = parseHead(new TextDecoder().decode(buf.subarray(0, end)), remote);
      let res: HttpResponse;
      let head = false;
      if ("status" in parsed) {
        stats.rejected++;
        res = parsed;
      } else {
        head = parsed.method === "HEAD";
        try {
          res = await o.handle(parsed);
        } catch (e) {
          o.log?.(`HTTP handler failed : ${(e as Error).message}`);
          res = plain(500, "internal error");
        }
        stats.answered++;
      }
      await writeAll(conn, responseBytes(res, head));
    } catch (e) {
      if (!isOsError(e)) throw e; // reset, timeout (closed by the timer): nothing to answer
    } finally {
      clearTimeout(timer);
      active.delete(conn);
      closeQuietly(conn);
    }
  }

  async function acceptLoop(l: Deno.TcpListener): Promise<void> {
    for (;;) {
      let conn: Deno.Conn;
      try {
        conn = await l.accept();
      } catch (e) {
        if (!isOsError(e)) throw e;
        if (closing) return;
        await new Promise((r) => setTimeout(r, 100)); // e.g. out of descriptors: no busy loop
        continue;
      }
      if (active.size >= maxConnections) {
        stats.rejected++;
        writeAll(conn, responseBytes(plain(503, "too many connections"), false))
          .catch(() => {})
          .finally(() => {
            closeQuietly(conn);
          });
        continue;
      }
      active.add(conn);
      serve(conn);
    }
  }
  const loops = listeners.map(acceptLoop);

  return {
    stats,
    listening,
    async close() {
      closing = true;
      for (const l of listeners) {
        closeQuietly(l);
      }
      for (const c of active) {
        closeQuietly(c);
      }
      await Promise.all(loops);
    },
  };
}
