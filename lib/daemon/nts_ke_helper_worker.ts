/**
 * One NTS-KE helper (chrony's `ntsprocesses`): a Deno Worker of the daemon's
 * process that serves the NTS-KE connections the main thread accepted and
 * admitted (`lib/daemon/nts_ke_helpers.ts`). It keeps its own TLS server
 * context (made once, reused by every session) and a copy of the server's
 * cookie keys, replaced whenever the main thread rotates or reloads them.
 * Descriptors are process-wide, so a connection arrives as its descriptor
 * number and the helper owns it from then on.
 *
 * Messages in: `init` (certificate pairs, AEADs, NTP server/port announced,
 * session time limit, keys), `keys`, `conn` (descriptor and peer), `close`.
 * Out: `ready` or `error`, `done` per connection (served/failed/null),
 * `closed`.
 *
 * @example
 * ```ts
 * const w = new Worker(new URL("./nts_ke_helper_worker.ts", import.meta.url).href, { type: "module" });
 * w.terminate();
 * ```
 * @module
 */
import { type CertKeyPair, TlsContext } from "../../ffi/libssl.ts";
import type { SockAddr } from "../../ffi/libc.ts";
import { NtsKeSessions } from "../io/nts_ke_server.ts";
import { TcpConn } from "../io/tcp.ts";
import { TlsStream } from "../io/tls_stream.ts";
import { NTS_KE_ALPN } from "../nts/ke_records.ts";
import { type ServerKey, ServerKeyRing } from "../nts/cookie.ts";
import { realNow } from "../io/realtime.ts";

/** Messages from the main thread. */
export type HelperRequest =
  | {
    type: "init";
    pairs: CertKeyPair[];
    aeads: number[];
    ntpServer?: string;
    ntpPort?: number;
    timeoutMs?: number;
    keys: ServerKey[];
  }
  | { type: "keys"; keys: ServerKey[] }
  | { type: "conn"; fd: number; peer: SockAddr }
  | { type: "close" };

/** Messages to the main thread. */
export type HelperReply =
  | { type: "ready" }
  | { type: "error"; message: string }
  | { type: "done"; result: "served" | "failed" | null; error?: string }
  | { type: "closed" };

// deno-lint-ignore no-explicit-any
const scope = self as any as {
  onmessage: ((e: MessageEvent<HelperRequest>) => void) | null;
  postMessage(m: HelperReply): void;
};

let ctx: TlsContext | null = null;
let ring: ServerKeyRing | null = null;
let sessions: NtsKeSessions | null = null;
const active = new Set<TlsStream>();
let serveConn: ((fd: number, peer: SockAddr) => Promise<void>) | null = null;

function post(m: HelperReply): void {
  scope.postMessage(m);
}

scope.onmessage = (e) => {
  const m = e.data;
  switch (m.type) {
    case "init": {
      try {
        ctx = TlsContext.server({ pairs: m.pairs, alpn: [NTS_KE_ALPN] });
        // ntsrotate 0 here: the main thread rotates and sends the new keys
        ring = ServerKeyRing.fromKeys(m.keys, realNow(), 0);
        let lastError = "";
        sessions = new NtsKeSessions({
          keyRing: ring,
          aeads: m.aeads,
          ...(m.ntpServer !== undefined ? { ntpServer: m.ntpServer } : {}),
          ...(m.ntpPort !== undefined ? { ntpPort: m.ntpPort } : {}),
          ...(m.timeoutMs !== undefined ? { timeoutMs: m.timeoutMs } : {}),
          onError(err) {
            lastError = (err as Error).message ?? String(err);
          },
        });
        const serve = sessions;
        const context = ctx;
        serveConn = async (fd, peer) => {
          const tls = new TlsStream(new TcpConn(fd, peer), context.session());
          active.add(tls);
          lastError = "";
          const result = await serve.serve(tls);
          active.delete(tls);
          post(lastError ? { type: "done", result, error: lastError } : { type: "done", result });
        };
        post({ type: "ready" });
      } catch (err) {
        post({ type: "error", message: (err as Error).message });
      }
      return;
    }
    case "keys":
      ring?.replaceKeys(m.keys, realNow());
      return;
    case "conn":
      if (serveConn === null) {
        new TcpConn(m.fd, m.peer).close();
        post({ type: "done", result: "failed", error: "NTS-KE helper not initialised" });
      } else {
        void serveConn(m.fd, m.peer);
      }
      return;
    case "close":
      for (const t of active) t.abort();
      active.clear();
      ctx?.free();
      ctx = null;
      serveConn = null;
      post({ type: "closed" });
      return;
  }
};
