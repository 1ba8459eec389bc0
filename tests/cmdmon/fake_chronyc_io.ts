/**
 * horae's chronyc wired to an in-memory daemon for tests: a {@link ChronycIo}
 * whose transport hands each request to `handleRequest` over a backend (a
 * {@link FakeBackend} unless given), with fixed randomness and wall clock, and
 * the printed output captured.
 *
 * @example
 * ```ts
 * import { runChronyc } from "../../lib/cmdmon/chronyc.ts";
 * import { fakeChronycIo } from "./fake_chronyc_io.ts";
 * const { io, captured } = fakeChronycIo();
 * await runChronyc(["-h", "/x", "tracking"], io);
 * captured.out; // the tracking report
 * ```
 * @module
 */
import type { ChronycIo } from "../../lib/cmdmon/chronyc.ts";
import { type CmdmonBackend, handleRequest } from "../../lib/cmdmon/handlers.ts";
import { FakeBackend } from "./fake_backend.ts";

/** What the fake chronyc printed and how often it talked to the daemon. */
export interface Captured {
  out: string;
  err: string;
  /** Requests handed to the daemon (each attempt counts). */
  exchanges: number;
}

/** Options of {@link fakeChronycIo}; every one has a default. */
export interface FakeIoOptions {
  /** The daemon's backend (default: a new FakeBackend). */
  backend?: CmdmonBackend;
  /** Answers a request in place of the backend (null: no answer). */
  answer?: (request: Uint8Array) => Uint8Array | null;
  /** Requests arrive over UDP from 127.0.0.1 instead of the Unix socket. */
  overUdp?: boolean;
  /** Standard error printed into `out` too (the order a terminal shows). */
  mergeErr?: boolean;
  /** Interactive input lines (readLine), none when absent. */
  lines?: string[];
  /** Wall clock in ms (default 2026-11-23 12:00:00 UTC). */
  nowMs?: number;
  /** Host name look-up (default: none). */
  lookup?: ChronycIo["lookup"];
}

/** A chronyc IO against an in-memory daemon; see the module doc. */
export function fakeChronycIo(o: FakeIoOptions = {}): { io: ChronycIo; captured: Captured } {
  const captured: Captured = { out: "", err: "", exchanges: 0 };
  const backend = o.backend ?? new FakeBackend();
  const ctx = o.overUdp
    ? { fromUnixSocket: false, address: { family: "inet4" as const, address: "127.0.0.1" } }
    : { fromUnixSocket: true };
  const answer = o.answer ?? ((request: Uint8Array) => handleRequest(request, ctx, backend));
  const input = o.lines ? [...o.lines] : undefined;
  const now = o.nowMs ?? Date.UTC(2026, 10, 23, 12, 0, 0);
  const io: ChronycIo = {
    stdout: (t) => (captured.out += t),
    stderr: (t) => o.mergeErr ? (captured.out += t) : (captured.err += t),
    connect: () =>
      Promise.resolve({
        exchange(build, accept) {
          captured.exchanges++;
          const reply = answer(build(0));
          return Promise.resolve(reply && accept(reply) ? reply : null);
        },
        close: () => Promise.resolve(),
      }),
    sleep: () => Promise.resolve(),
    random32: () => 42,
    randomBytes: (n) => new Uint8Array(n).fill(0x5a),
    nowMs: () => now,
    ...(input ? { readLine: () => Promise.resolve(input.shift() ?? null) } : {}),
    ...(o.lookup ? { lookup: o.lookup } : {}),
  };
  return { io, captured };
}
