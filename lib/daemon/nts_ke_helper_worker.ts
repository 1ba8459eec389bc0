/**
 * One NTS-KE helper (chrony's `ntsprocesses`): a Deno Worker of the daemon's
 * process that serves the NTS-KE connections the main thread accepted and
 * admitted (`lib/daemon/nts_ke_helpers.ts`). It keeps its own TLS server
 * context (made once, reused by every session) and a copy of the server's
 * cookie keys, replaced whenever the main thread rotates or reloads them.
 * Descriptors are process-wide, so a connection arrives as its descriptor
 * number and the helper owns it from then on.
 *
 * Connections arrive through a shared ring (`nts_ke_helper_ring.ts`) with an
 * eventfd to wake the helper, which waits in a blocking loop of its own on
 * one epoll set (its sessions' sockets and that eventfd): the helper thread
 * has nothing else to do, so it needs no poller, promise or timer per
 * session (the sessions: `NtsKeSessions` of lib/io/nts_ke_server.ts).
 *
 * Messages in: `init` (the ring and eventfd, certificate pairs, AEADs, NTP
 * server/port announced, session time limit, keys), `keys`, `close`; the
 * loop yields to the event loop while any is pending. Out: `ready` or
 * `error`, `done` with the outcomes (served/failed/null) of the sessions that
 * ended in one round of the loop, `closed`.
 *
 * @example
 * ```ts
 * const w = new Worker(new URL("./nts_ke_helper_worker.ts", import.meta.url).href, { type: "module" });
 * w.terminate();
 * ```
 * @module
 */
import { type CertKeyPair, TlsContext } from "../../ffi/libssl.ts";
import { epollReady, eventfdRead } from "../../ffi/libc.ts";
import { NtsKeSessions, type SessionResult } from "../io/nts_ke_server.ts";
import { NTS_KE_ALPN } from "../nts/ke_records.ts";
import { type ServerKey, ServerKeyRing } from "../nts/cookie.ts";
import { realNow } from "../io/realtime.ts";
import {
  RING_BUSY,
  RING_HEAD,
  RING_MESSAGES,
  RING_SLOTS,
  RING_TAIL,
} from "./nts_ke_helper_ring.ts";

/** Messages from the main thread. */
export type HelperRequest =
  | {
    type: "init";
    /** The hand-over ring (nts_ke_helper_ring.ts) and the eventfd that wakes this helper. */
    ring: Uint32Array;
    wakeFd: number;
    pairs: CertKeyPair[];
    aeads: number[];
    ntpServer?: string;
    ntpPort?: number;
    timeoutMs?: number;
    keys: ServerKey[];
  }
  | { type: "keys"; keys: ServerKey[] }
  | { type: "close" };

/** Outcomes of the sessions that ended since the last report. */
export interface HelperResults {
  served: number;
  failed: number;
  /** Refused by negotiation (counted as neither). */
  refused: number;
  /** The failed sessions' errors (as many as failed). */
  errors: string[];
}

/** Messages to the main thread. */
export type HelperReply =
  | { type: "ready" }
  | { type: "error"; message: string }
  | ({ type: "done" } & HelperResults)
  | { type: "closed" };

// deno-lint-ignore no-explicit-any
const scope = self as any as {
  onmessage: ((e: MessageEvent<HelperRequest>) => void) | null;
  postMessage(m: HelperReply): void;
};

let ctx: TlsContext | null = null;
let ring: ServerKeyRing | null = null;
let sessions: NtsKeSessions | null = null;
let handover: Uint32Array | null = null;
let wakeFd = -1;
/** Outcomes not posted yet (at most every `REPORT_MS` a "done" message). */
let results: HelperResults = { served: 0, failed: 0, refused: 0, errors: [] };
let lastReport = 0;
/** Longest time outcomes wait to be reported, ms (`RING_BUSY` is current at once). */
const REPORT_MS = 50;
const ready = new Int32Array(64);

function post(m: HelperReply): void {
  scope.postMessage(m);
}

function pendingResults(): boolean {
  return results.served + results.failed + results.refused > 0;
}

function postResults(): void {
  if (!pendingResults()) return;
  const r = results;
  results = { served: 0, failed: 0, refused: 0, errors: [] };
  lastReport = performance.now();
  post({ type: "done", ...r });
}

function done(result: SessionResult, error?: unknown): void {
  Atomics.sub(handover!, RING_BUSY, 1);
  if (result === "served") results.served++;
  else if (result === null) results.refused++;
  else {
    results.failed++;
    results.errors.push(error === undefined ? "" : (error as Error)?.message ?? String(error));
  }
}

/** Serves the descriptors the main thread handed over since the last call. */
function takeConnections(s: NtsKeSessions, c: TlsContext, r: Uint32Array): void {
  const mask = r.length - RING_SLOTS - 1;
  const tail = Atomics.load(r, RING_TAIL);
  let head = r[RING_HEAD]!;
  while (head !== tail) {
    const fd = r[RING_SLOTS + (head & mask)]!;
    head = (head + 1) >>> 0;
    Atomics.store(r, RING_HEAD, head);
    s.serveSocket(c, fd, done);
  }
}

/**
 * The helper's loop: waits on the sessions' epoll set (with the wake-up
 * eventfd in it), blocking this thread, which has nothing else to do: no
 * promise, timer or poller round trip per step. Returns when the main
 * thread posted messages; `onmessage` runs it again once they are handled.
 */
function run(): void {
  const s = sessions, c = ctx, r = handover;
  if (s === null || c === null || r === null) return;
  const ep = s.epollFd;
  while (Atomics.load(r, RING_MESSAGES) === 0) {
    let wait = s.nextWakeMs();
    if (pendingResults()) {
      const due = Math.max(0, Math.ceil(lastReport + REPORT_MS - performance.now()));
      wait = wait < 0 ? due : Math.min(wait, due);
    }
    const n = epollReady(ep, ready, wait);
    for (let i = 0; i < n; i++) {
      const fd = ready[i]!;
      if (fd === wakeFd) {
        eventfdRead(wakeFd);
        takeConnections(s, c, r);
      } else s.ready(fd);
    }
    s.tick();
    if (performance.now() - lastReport >= REPORT_MS) postResults();
  }
}

function handle(m: HelperRequest): void {
  switch (m.type) {
    case "init": {
      try {
        handover = m.ring;
        wakeFd = m.wakeFd;
        ctx = TlsContext.server({ pairs: m.pairs, alpn: [NTS_KE_ALPN] });
        // ntsrotate 0 here: the main thread rotates and sends the new keys
        ring = ServerKeyRing.fromKeys(m.keys, realNow(), 0);
        sessions = new NtsKeSessions({
          keyRing: ring,
          aeads: m.aeads,
          ...(m.ntpServer !== undefined ? { ntpServer: m.ntpServer } : {}),
          ...(m.ntpPort !== undefined ? { ntpPort: m.ntpPort } : {}),
          ...(m.timeoutMs !== undefined ? { timeoutMs: m.timeoutMs } : {}),
        }, true);
        sessions.watchExtra(wakeFd);
        post({ type: "ready" });
      } catch (err) {
        sessions = null;
        post({ type: "error", message: (err as Error).message });
      }
      return;
    }
    case "keys":
      ring?.replaceKeys(m.keys, realNow());
      return;
    case "close":
      sessions?.abortAll();
      postResults();
      ctx?.free();
      ctx = null;
      sessions = null;
      post({ type: "closed" });
      return;
  }
}

scope.onmessage = (e) => {
  handle(e.data);
  const r = handover;
  if (r !== null && Atomics.sub(r, RING_MESSAGES, 1) === 1) {
    // connections handed over while this one waited are in the ring: take them now
    if (sessions !== null && ctx !== null) takeConnections(sessions, ctx, r);
    run();
  }
};
