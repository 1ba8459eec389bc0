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
 * session time limit, keys), `keys`, `conns` (the descriptors the main
 * thread took in one turn of its event loop), `close`. Out: `ready` or
 * `error`, `done` with the outcomes (served/failed/null) of the sessions that
 * ended in one turn of this thread's event loop, `closed`.
 *
 * @example
 * ```ts
 * const w = new Worker(new URL("./nts_ke_helper_worker.ts", import.meta.url).href, { type: "module" });
 * w.terminate();
 * ```
 * @module
 */
import { type CertKeyPair, TlsContext } from "../../ffi/libssl.ts";
import { NtsKeSessions, type SessionResult } from "../io/nts_ke_server.ts";
import { NTS_KE_ALPN } from "../nts/ke_records.ts";
import { type ServerKey, ServerKeyRing } from "../nts/cookie.ts";
import { realNow } from "../io/realtime.ts";
import { closeStream } from "../io/tcp.ts";

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
  | { type: "conns"; fds: number[] }
  | { type: "close" };

/** One session's outcome, and its error's text. */
export interface HelperResult {
  result: SessionResult;
  error?: string;
}

/** Messages to the main thread. */
export type HelperReply =
  | { type: "ready" }
  | { type: "error"; message: string }
  | { type: "done"; results: HelperResult[] }
  | { type: "closed" };

// deno-lint-ignore no-explicit-any
const scope = self as any as {
  onmessage: ((e: MessageEvent<HelperRequest>) => void) | null;
  postMessage(m: HelperReply): void;
};

let ctx: TlsContext | null = null;
let ring: ServerKeyRing | null = null;
let sessions: NtsKeSessions | null = null;
/** Outcomes not posted yet: one "done" message per turn of the event loop. */
let results: HelperResult[] = [];

function post(m: HelperReply): void {
  scope.postMessage(m);
}

function postResults(): void {
  const r = results;
  results = [];
  post({ type: "done", results: r });
}

function done(result: SessionResult, error?: unknown): void {
  const r: HelperResult = error === undefined
    ? { result }
    : { result, error: (error as Error)?.message ?? String(error) };
  if (results.push(r) === 1) queueMicrotask(postResults);
}

scope.onmessage = (e) => {
  const m = e.data;
  switch (m.type) {
    case "init": {
      try {
        ctx = TlsContext.server({ pairs: m.pairs, alpn: [NTS_KE_ALPN] });
        // ntsrotate 0 here: the main thread rotates and sends the new keys
        ring = ServerKeyRing.fromKeys(m.keys, realNow(), 0);
        sessions = new NtsKeSessions({
          keyRing: ring,
          aeads: m.aeads,
          ...(m.ntpServer !== undefined ? { ntpServer: m.ntpServer } : {}),
          ...(m.ntpPort !== undefined ? { ntpPort: m.ntpPort } : {}),
          ...(m.timeoutMs !== undefined ? { timeoutMs: m.timeoutMs } : {}),
        });
        post({ type: "ready" });
      } catch (err) {
        post({ type: "error", message: (err as Error).message });
      }
      return;
    }
    case "keys":
      ring?.replaceKeys(m.keys, realNow());
      return;
    case "conns":
      for (const fd of m.fds) {
        if (sessions === null || ctx === null) {
          closeStream(fd);
          done("failed", new Error("NTS-KE helper not initialised"));
        } else {
          sessions.serveSocket(ctx, fd, done);
        }
      }
      return;
    case "close":
      sessions?.abortAll();
      ctx?.free();
      ctx = null;
      sessions = null;
      post({ type: "closed" });
      return;
  }
};
