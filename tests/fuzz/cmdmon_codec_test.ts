/**
 * Fuzz target for the cmdmon codec and handlers: seeded random and mutated
 * request and reply bytes. Decoders may only throw `WireError`;
 * `handleRequest` with a FakeBackend never throws and never answers with
 * more bytes than it was sent (chronyd's no-amplification rule).
 *
 * @example
 * ```sh
 * ./denow test -A tests/fuzz/cmdmon_codec_test.ts
 * ```
 * @module
 */
import assert from "node:assert/strict";
import { handleRequest } from "../../lib/cmdmon/handlers.ts";
import {
  decodeRequest,
  decodeRequestHeader,
  encodeRequest,
  minRequestLength,
  type Request,
  requestKindOf,
} from "../../lib/cmdmon/request.ts";
import {
  decodeReply,
  decodeReplyHeader,
  encodeReply,
  type Reply,
} from "../../lib/cmdmon/reports.ts";
import { Status, WireError } from "../../lib/cmdmon/wire.ts";
import { parseAdd } from "../../lib/cmdmon/chronyc.ts";
import { FakeBackend } from "../cmdmon/fake_backend.ts";
import { prng } from "./prng.ts";

const A = { family: "inet4", address: "192.0.2.1" } as const;
const B = { family: "inet6", address: "2001:db8::1" } as const;

/** One request of each shape horae's chronyc sends. */
const REQUESTS: Request[] = [
  { kind: "tracking" },
  { kind: "n_sources" },
  { kind: "source_data", index: 0 },
  { kind: "sourcestats", index: 1 },
  { kind: "select_data", index: 0 },
  { kind: "activity" },
  { kind: "server_stats" },
  { kind: "rtcreport" },
  { kind: "smoothing" },
  { kind: "manual_list" },
  { kind: "manual_delete", index: 3 },
  { kind: "ntp_data", ip: A },
  { kind: "auth_data", ip: B },
  { kind: "ntp_source_name", ip: A },
  { kind: "client_accesses_by_index3", firstIndex: 0, nClients: 8, minHits: 0, reset: 0 },
  { kind: "dump" },
  { kind: "online", mask: A, address: A },
  { kind: "burst", mask: B, address: B, nGoodSamples: 2, nTotalSamples: 4 },
  { kind: "allowall", ip: A, subnetBits: 24 },
  { kind: "local2", onOff: 1, stratum: 10, distance: 1, orphan: 1 },
  { kind: "modify_makestep", limit: 3, threshold: 0.1 },
  { kind: "modify_selectopts", address: A, refId: 0, mask: 3, options: 1 },
  { kind: "settime", ts: 1_700_000_000_000_000_000n },
  parseAdd(["server", "192.0.2.9", "iburst", "minpoll", "3", "key", "7", "maxdelay", "0.2"]),
];

/** Replies of each kind, from the FakeBackend's data. */
function replies(): Reply[] {
  const out: Reply[] = [{ kind: "null" }];
  const be = new FakeBackend();
  for (const req of REQUESTS) {
    const bytes = handleRequest(encodeRequest(req, { sequence: 1, attempt: 0 }), {
      fromUnixSocket: true,
    }, be);
    if (bytes) out.push(decodeReply(bytes).reply);
  }
  return out;
}

function mutate(rand: () => number, base: Uint8Array): Uint8Array {
  let b = base.slice();
  const edits = 1 + Math.floor(rand() * 4);
  for (let i = 0; i < edits; i++) {
    const op = Math.floor(rand() * 4);
    const at = Math.floor(rand() * (b.length + 1));
    if (op === 0 && b.length > 0) b[at % b.length] = Math.floor(rand() * 256);
    else if (op === 1) b = b.slice(0, at);
    else if (op === 2) {
      const extra = new Uint8Array(Math.floor(rand() * 40)).map(() => Math.floor(rand() * 256));
      b = new Uint8Array([...b.subarray(0, at), ...extra, ...b.subarray(at)]);
    } else if (b.length > 4) {
      // header fields that steer decoding: command / reply code and status
      const field = 4 + 2 * Math.floor(rand() * 4);
      if (field + 1 < b.length) {
        b[field] = 0;
        b[field + 1] = Math.floor(rand() * 80);
      }
    }
  }
  return b;
}

function onlyWireError(f: () => unknown, what: string, bytes: Uint8Array): void {
  try {
    f();
  } catch (e) {
    if (!(e instanceof WireError)) {
      throw new Error(`${what} threw ${e} on ${Array.from(bytes).join(",")}`);
    }
  }
}

const ITERATIONS = 20_000;

Deno.test("request decoding throws only WireError on mutated and random bytes", () => {
  const rand = prng(0xc0ffee);
  const seeds = REQUESTS.map((r) => encodeRequest(r, { sequence: 7, attempt: 0 }));
  for (let i = 0; i < ITERATIONS; i++) {
    const bytes = rand() < 0.9
      ? mutate(rand, seeds[Math.floor(rand() * seeds.length)]!)
      : new Uint8Array(Math.floor(rand() * 600)).map(() => Math.floor(rand() * 256));
    onlyWireError(
      () => {
        const h = decodeRequestHeader(bytes);
        const kind = requestKindOf(h.command);
        if (kind !== undefined && bytes.length >= minRequestLength(kind)) {
          decodeRequest(bytes, kind);
        }
      },
      "decodeRequest",
      bytes,
    );
  }
});

Deno.test("reply decoding throws only WireError; valid replies round-trip", () => {
  const rand = prng(0xbadcafe);
  const seeds = replies().map((r, i) =>
    encodeReply(r, { command: 33, status: Status.SUCCESS, sequence: i })
  );
  for (const s of seeds) {
    const { reply } = decodeReply(s);
    assert.deepEqual(encodeReply(reply, decodeReplyHeader(s)), s);
  }
  for (let i = 0; i < ITERATIONS; i++) {
    const bytes = rand() < 0.9
      ? mutate(rand, seeds[Math.floor(rand() * seeds.length)]!)
      : new Uint8Array(Math.floor(rand() * 600)).map(() => Math.floor(rand() * 256));
    onlyWireError(() => decodeReply(bytes), "decodeReply", bytes);
  }
});

Deno.test("handleRequest never throws and never replies longer than the request", () => {
  const rand = prng(0x5eed);
  const seeds = REQUESTS.map((r) => encodeRequest(r, { sequence: 9, attempt: 0 }));
  const contexts = [
    { fromUnixSocket: true },
    { fromUnixSocket: false, address: A },
    { fromUnixSocket: false, address: { family: "inet4", address: "203.0.113.5" } as const },
  ];
  const be = new FakeBackend();
  for (let i = 0; i < ITERATIONS; i++) {
    const bytes = rand() < 0.9
      ? mutate(rand, seeds[Math.floor(rand() * seeds.length)]!)
      : new Uint8Array(Math.floor(rand() * 600)).map(() => Math.floor(rand() * 256));
    const ctx = contexts[Math.floor(rand() * contexts.length)]!;
    let out: Uint8Array | null;
    try {
      out = handleRequest(bytes, ctx, be);
    } catch (e) {
      throw new Error(`handleRequest threw ${e} on ${Array.from(bytes).join(",")}`);
    }
    if (out) assert.ok(out.length <= bytes.length, `reply ${out.length} > request ${bytes.length}`);
  }
});
