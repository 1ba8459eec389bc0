/**
 * The reply layout tables (lib/cmdmon/reports.ts `REPLY_TABLE`, codec in
 * lib/cmdmon/layouts.ts): every row round-trips values at the extremes of
 * each wire kind, every row's length is chrony's reply length for that code,
 * captured chrony 4.3 and 4.8 replies re-encode byte for byte, and short or
 * malformed replies are refused with `WireError`.
 * @module
 */
import assert from "node:assert/strict";
import { golden, hex } from "./golden.ts";
import {
  type Layout,
  layoutSize,
  list,
  pad,
  readFields,
  type Scalar,
  writeFields,
} from "../../lib/cmdmon/layouts.ts";
import { FakeBackend } from "./fake_backend.ts";
import { formatNtpData } from "../../lib/cmdmon/format.ts";
import { ntpDataJson } from "../../lib/cmdmon/json.ts";
import {
  type AuthDataReport,
  type ClientAccessesPage,
  decodeReply,
  decodeReplyHeader,
  emptyServerStats,
  encodedReplyLength,
  encodeReply,
  type NtpDataReport,
  type Reply,
  REPLY_TABLE,
  replyLength,
  replyOf,
  type ReplySpec,
  replySpecOf,
  type SelectDataReport,
  type ServerStatsReport,
  type SourceReport,
  type SourceStatsReport,
} from "../../lib/cmdmon/reports.ts";
import {
  type CmdAddress,
  REPLY_HEADER_LENGTH,
  Rpy,
  Status,
  WireError,
  WireReader,
  WireWriter,
} from "../../lib/cmdmon/wire.ts";

/** Largest and smallest magnitudes chrony's Float holds exactly (25-bit coefficient, 7-bit exponent). */
const FLOAT_MAX = (2 ** 24 - 1) * 2 ** 38;
const FLOAT_TINY = 2 ** -89;
/** A Timespec with every bit of tv_sec_high but the reserved 0x7fffffff pattern. */
const TS_MAX = ((0x7ffffffen << 32n) | 0xffffffffn) * 1_000_000_000n + 999_999_999n;

/** Five values of each kind: minimum, maximum, then edge values in between. */
const VALUES: Record<Scalar, readonly unknown[]> = {
  u8: [0, 255, 1, 128, 127],
  i8: [-128, 127, -1, 0, 1],
  u16: [0, 65535, 1, 32768, 255],
  i16: [-32768, 32767, -1, 0, 256],
  u32: [0, 2 ** 32 - 1, 1, 2 ** 31, 0x7f7f0101],
  i32: [-(2 ** 31), 2 ** 31 - 1, -1, 0, 1],
  u64: [0, Number.MAX_SAFE_INTEGER, 2 ** 32, 2 ** 32 - 1, 1],
  float: [-FLOAT_MAX, FLOAT_MAX, FLOAT_TINY, -FLOAT_TINY, 0],
  addr: [
    { family: "unspec" },
    { family: "inet6", address: "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff" },
    { family: "inet4", address: "255.255.255.255" },
    { family: "id", id: 0xffffffff },
    { family: "inet4", address: "0.0.0.0" },
  ] satisfies CmdAddress[],
  ts: [0n, TS_MAX, 1n, 999_999_999n, 1_795_431_457_908_788_426n],
  name: ["", "x".repeat(255), "a", "ntp.example.org", "é"],
  char: ["\x01", "\xff", " ", "*", "x"],
};

/** A record for `layout` with every field at its `v`-th value (lists: empty, full, or partial). */
function sample(layout: Layout, v: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, kind] of layout) {
    if (typeof kind === "string") out[name] = VALUES[kind][v % 5];
    else if ("bits" in kind) kind.bits.forEach((b) => (out[b] = v % 2 === 1));
    else if ("list" in kind) {
      const n = [0, kind.max, 1, kind.max - 1, 2][v % 5]!;
      out[name] = Array.from({ length: n }, (_, i) => sample(kind.list, v + i));
    }
  }
  return out;
}

const header = { command: 33, status: Status.SUCCESS, sequence: 0xfffffffe };

Deno.test("every reply table row round-trips values at the extremes of each kind", () => {
  for (const spec of REPLY_TABLE) {
    for (let v = 0; v < 5; v++) {
      const reply = replyOf(spec, sample(spec.layout, v));
      assert.equal(replySpecOf(reply), spec, `${spec.kind} ${spec.code} picks its own row`);
      const bytes = encodeReply(reply, header);
      assert.equal(bytes.length, replyLength(spec.code));
      assert.equal(bytes.length, encodedReplyLength(reply));
      const back = decodeReply(bytes);
      assert.deepEqual(back.reply, reply, `${spec.kind} code ${spec.code} variant ${v}`);
      assert.equal(back.header.reply, spec.code);
      assert.equal(back.header.sequence, header.sequence);
      assert.deepEqual(encodeReply(back.reply, back.header), bytes);
    }
  }
});

Deno.test("every reply layout has chrony's length for its code", () => {
  // Whole packets (28-byte header + body). chronyc pads each request to the reply it expects:
  // strace of chronyc 4.3 and 4.8 (`sendto` lengths) gives TRACKING 104, N_SOURCES 32,
  // NTP_DATA 152 (4.3) / NTP_DATA2 172 (4.8), SERVER_STATS3 72 (4.3) / SERVER_STATS4 196 (4.8),
  // MANUAL_TIMESTAMP2 40, RTC 56, MANUAL_LIST2 416, SMOOTHING 52, ACTIVITY 48,
  // CLIENT_ACCESSES_BY_INDEX3 520, NTP_SOURCE_NAME 284; SOURCE_DATA 76, SOURCESTATS 84,
  // AUTH_DATA 52 and SELECT_DATA 76 are the captured requests of codec_test.ts. SERVER_STATS 48
  // and SERVER_STATS2 60 are candm.h's 5 and 8 uint32 counters (no chronyd here sends them).
  const chrony: [number, number][] = [
    [Rpy.NULL, 28],
    [Rpy.N_SOURCES, 32],
    [Rpy.SOURCE_DATA, 76],
    [Rpy.TRACKING, 104],
    [Rpy.SOURCESTATS, 84],
    [Rpy.RTC, 56],
    [Rpy.MANUAL_TIMESTAMP2, 40],
    [Rpy.CLIENT_ACCESSES_BY_INDEX3, 520],
    [Rpy.SERVER_STATS, 48],
    [Rpy.SERVER_STATS2, 60],
    [Rpy.SERVER_STATS3, 72],
    [Rpy.SERVER_STATS4, 196],
    [Rpy.MANUAL_LIST2, 416],
    [Rpy.ACTIVITY, 48],
    [Rpy.SMOOTHING, 52],
    [Rpy.NTP_DATA, 152],
    [Rpy.NTP_DATA2, 172],
    [Rpy.NTP_SOURCE_NAME, 284],
    [Rpy.AUTH_DATA, 52],
    [Rpy.SELECT_DATA, 76],
  ];
  assert.deepEqual(
    REPLY_TABLE.map((s) => s.code).sort((a, b) => a - b),
    chrony.map(([c]) => c).sort((a, b) => a - b),
    "one row per code",
  );
  for (const [code, len] of chrony) {
    assert.equal(replyLength(code), len, `reply code ${code}`);
  }
  // and the captured replies are exactly that long
  for (
    const name of [
      "trackingReply",
      "sourceDataReply",
      "sourcestatsReply",
      "activityReply",
      "serverStats3Reply",
      "serverStats4Reply",
      "clientsReply",
      "ntpDataReply",
      "ntpData2Reply",
      "authDataReply",
      "selectDataReply",
      "smoothingNotEnabledReply",
    ] as const
  ) {
    const bytes = hex(golden[name]);
    assert.equal(bytes.length, replyLength(decodeReplyHeader(bytes).reply), name);
  }
});

Deno.test("chronyd 4.8's SERVER_STATS4 and NTP_DATA2 decode to what chronyc 4.8 printed", () => {
  const ss = hex(golden.serverStats4Reply);
  const s = decodeReply(ss);
  assert.equal(s.reply.kind, "server_stats");
  if (s.reply.kind === "server_stats") {
    const r = s.reply.report;
    assert.equal(r.version, 4);
    assert.equal(r.ntpHits, 8);
    assert.equal(r.cmdHits, 1);
    assert.equal(r.ntpDaemonRxTimestamps, 0);
    assert.equal(r.ntpDaemonTxTimestamps, 8);
    assert.equal(r.ntpKernelRxTimestamps, 8);
    assert.equal(r.ntpKernelTxTimestamps, 0);
  }
  assert.deepEqual(encodeReply(s.reply, s.header), ss, "reserved words all ones, as chronyd 4.8");

  const nd = hex(golden.ntpData2Reply);
  const n = decodeReply(nd);
  assert.equal(n.reply.kind, "ntp_data");
  if (n.reply.kind === "ntp_data") {
    const r = n.reply.report;
    assert.equal(n.reply.v2, true);
    assert.equal(r.precision, -26);
    assert.equal(r.refId, 0x7f7f0101);
    assert.equal(r.flags, 0x03fd); // NTP tests 111 111 1101
    assert.deepEqual(
      [r.totalTxCount, r.totalRxCount, r.totalValidCount, r.totalGoodCount],
      [8, 8, 8, 7],
    );
    assert.deepEqual([r.totalKernelTxTs, r.totalKernelRxTs, r.totalHwTxTs, r.totalHwRxTs], [
      8,
      8,
      0,
      0,
    ]);
    assert.equal(String.fromCharCode(r.txTssChar), "K");
  }
  assert.deepEqual(encodeReply(n.reply, n.header), nd);
});

/** Runs `f`, which must throw `WireError` (not another error, not return). */
function refused(f: () => unknown, what: string): void {
  assert.throws(f, WireError, what);
}

Deno.test("short, truncated and malformed replies are refused with WireError", () => {
  for (const spec of REPLY_TABLE) {
    const bytes = encodeReply(replyOf(spec, sample(spec.layout, 1)), header);
    // every truncation: header cut, and body one byte short
    for (const cut of new Set([0, 1, 4, 27, bytes.length - 1])) {
      if (cut >= bytes.length) continue;
      refused(() => decodeReply(bytes.subarray(0, cut)), `${spec.kind} cut to ${cut}`);
    }
  }
  // an unknown reply code
  const unknown = encodeReply({ kind: "null" }, header);
  unknown[7] = 99;
  refused(() => decodeReply(unknown), "reply code 99");
  // a list counting more entries than its slots (9 clients, 17 manual samples)
  const clients = encodeReply({
    kind: "client_accesses",
    page: { nIndices: 0, nextIndex: 0, clients: [] },
  }, header);
  new DataView(clients.buffer).setUint32(REPLY_HEADER_LENGTH + 8, 9);
  refused(() => decodeReply(clients), "9 clients");
  const manual = encodeReply({ kind: "manual_list", samples: [] }, header);
  new DataView(manual.buffer).setUint32(REPLY_HEADER_LENGTH, 17);
  refused(() => decodeReply(manual), "17 samples");
  // the largest count the slots hold is fine, and longer packets are read to their layout
  new DataView(manual.buffer).setUint32(REPLY_HEADER_LENGTH, 16);
  const longer = new Uint8Array(manual.length + 8);
  longer.set(manual);
  const m = decodeReply(longer).reply;
  assert.ok(m.kind === "manual_list" && m.samples.length === 16);
});

Deno.test("layout codec: pads, bit flags and lists in both directions", () => {
  const item: Layout = [["n", "u16"]];
  const layout: Layout = [
    ["a", "u8"],
    pad(3, 0xee),
    ["", { bits: ["x", "y", "z"] }],
    list("items", item, 3),
    pad(2),
  ];
  assert.equal(layoutSize(layout), 1 + 3 + 4 + 4 + 3 * 2 + 2);
  const w = new WireWriter(layoutSize(layout));
  writeFields(w, layout, { a: 7, x: true, y: false, z: true, items: [{ n: 1 }, { n: 2 }] });
  assert.deepEqual(
    Array.from(w.bytes),
    [7, 0xee, 0xee, 0xee, 0, 0, 0, 5, 0, 0, 0, 2, 0, 1, 0, 2, 0, 0, 0, 0],
  );
  assert.deepEqual(readFields(new WireReader(w.bytes), layout), {
    a: 7,
    x: true,
    y: false,
    z: true,
    items: [{ n: 1 }, { n: 2 }],
  });
  // a list longer than its slots is cut on writing; missing values write as zero
  const w2 = new WireWriter(layoutSize(layout));
  writeFields(w2, layout, { items: [{ n: 1 }, { n: 2 }, { n: 3 }, { n: 4 }] });
  const back = readFields(new WireReader(w2.bytes), layout);
  assert.deepEqual(back.items, [{ n: 1 }, { n: 2 }, { n: 3 }]);
  assert.equal(back.a, 0);
});

Deno.test("each reply kind's versions: the row is picked by its marks, lacking fields are zero", () => {
  const rows = (kind: string) => REPLY_TABLE.filter((s: ReplySpec) => s.kind === kind);
  assert.deepEqual(rows("server_stats").map((s) => s.marks.record?.version), [1, 2, 3, 4]);
  assert.deepEqual(rows("ntp_data").map((s) => s.marks.reply?.v2), [false, true]);
  // a v1 server-stats reply carries only v1's counters; the rest decode as 0
  const full = replyOf(rows("server_stats")[3]!, sample(rows("server_stats")[3]!.layout, 4));
  if (full.kind !== "server_stats") throw new Error("kind");
  const v1 = decodeReply(
    encodeReply({ kind: "server_stats", report: { ...full.report, version: 1 } }, header),
  ).reply;
  assert.ok(v1.kind === "server_stats");
  assert.equal(v1.report.version, 1);
  assert.equal(v1.report.ntpHits, full.report.ntpHits);
  assert.equal(v1.report.nkeHits, 0);
  assert.equal(v1.report.ntpHwTxTimestamps, 0);
  // an empty report of any version has every counter, zero
  for (const v of [1, 2, 3, 4] as const) {
    const e = emptyServerStats(v);
    assert.equal(Object.keys(e).length, 18, `v${v}`);
    assert.ok(Object.entries(e).every(([k, x]) => x === (k === "version" ? v : 0)), `v${v}`);
  }
});

/** Same fields and values, numbers within chrony Float's precision (2^-23 relative). */
function close(a: unknown, b: unknown, at: string): void {
  if (typeof a === "number" && typeof b === "number") {
    assert.ok(Math.abs(a - b) <= Math.abs(b) * 2 ** -23, `${at}: ${a} != ${b}`);
  } else if (a !== null && b !== null && typeof a === "object" && typeof b === "object") {
    assert.deepEqual(Object.keys(a).sort(), Object.keys(b).sort(), at);
    for (const k of Object.keys(b)) close((a as never)[k], (b as never)[k], `${at}.${k}`);
  } else {
    assert.deepEqual(a, b, at);
  }
}

Deno.test("typed replies of every kind come back with every field and value (sign, width)", () => {
  const be = new FakeBackend();
  const A = { family: "inet4", address: "192.0.2.1" } as const;
  const stats: ServerStatsReport = {
    version: 4,
    ntpHits: 1,
    nkeHits: 2,
    cmdHits: 3,
    ntpDrops: 4,
    nkeDrops: 5,
    cmdDrops: 6,
    logDrops: 7,
    ntpAuthHits: 8,
    ntpInterleavedHits: 9,
    ntpTimestamps: 10,
    ntpSpanSeconds: 11,
    ntpDaemonRxTimestamps: 12,
    ntpDaemonTxTimestamps: 13,
    ntpKernelRxTimestamps: 14,
    ntpKernelTxTimestamps: 15,
    ntpHwRxTimestamps: 16,
    ntpHwTxTimestamps: 17,
  };
  // candm.h: counters of SERVER_STATS (v1), added by v2 and by v3; v4 has all
  const added = [
    ["ntpHits", "cmdHits", "ntpDrops", "cmdDrops", "logDrops"],
    ["nkeHits", "nkeDrops", "ntpAuthHits"],
    ["ntpInterleavedHits", "ntpTimestamps", "ntpSpanSeconds"],
  ];
  const inVersion = (k: string, v: number) => v === 4 || added.slice(0, v).flat().includes(k);
  const ntp = { ...be.ntpData(A) as NtpDataReport, poll: -4, remotePort: 65000, stratum: 200 };
  const page = be.clientAccesses(0) as ClientAccessesPage;
  const replies: Reply[] = [
    { kind: "null" },
    { kind: "n_sources", nSources: be.nSources() },
    { kind: "source_data", report: { ...be.sourceData(0) as SourceReport, poll: -3 } },
    { kind: "tracking", report: be.tracking() },
    { kind: "sourcestats", report: be.sourceStats(0) as SourceStatsReport },
    {
      kind: "rtc",
      report: {
        refTime: 5n,
        nSamples: 6,
        nRuns: 3,
        spanSeconds: 600,
        rtcSecondsFast: 0.5,
        rtcGainRatePpm: -2,
      },
    },
    { kind: "manual_timestamp", report: { offset: 0.25, dfreqPpm: 1, newAfreqPpm: -3 } },
    {
      kind: "client_accesses",
      page: {
        ...page,
        clients: page.clients.map((c) => ({ ...c, nkeInterval: -2, cmdInterval: -128 })),
      },
    },
    ...([1, 2, 3, 4] as const).map((version): Reply => ({
      kind: "server_stats",
      report: Object.fromEntries(
        Object.entries(stats).map((
          [k, v],
        ) => [k, k === "version" ? version : inVersion(k, version) ? v : 0]),
      ) as unknown as ServerStatsReport,
    })),
    {
      kind: "manual_list",
      samples: [{ when: 7n, slewedOffset: 0.5, origOffset: 0.25, residual: -0.125 }],
    },
    { kind: "activity", report: { ...be.activity(), unresolved: -1, burstOnline: 70000 } },
    {
      kind: "smoothing",
      report: {
        active: true,
        leapOnly: false,
        offset: 1,
        freqPpm: 2,
        wanderPpm: 4,
        lastUpdateAgo: 8,
        remainingTime: 16,
      },
    },
    {
      kind: "ntp_data",
      report: { ...ntp, totalKernelTxTs: 0, totalKernelRxTs: 0, totalHwTxTs: 0, totalHwRxTs: 0 },
      v2: false,
    },
    { kind: "ntp_data", report: ntp, v2: true },
    { kind: "ntp_source_name", name: be.sourceName(A) as string },
    { kind: "auth_data", report: be.authData(A) as AuthDataReport },
    { kind: "select_data", report: be.selectData(0) as SelectDataReport },
  ];
  const codes = new Set<number>();
  for (const reply of replies) {
    const { header: h, reply: back } = decodeReply(encodeReply(reply, header));
    codes.add(h.reply);
    close(back, reply, `${reply.kind} (reply code ${h.reply})`);
  }
  assert.equal(codes.size, REPLY_TABLE.length, "every row exercised");
});

Deno.test("ntpdata's test bits: test 1 is bit 9, as chronyd 4.8 sent and chronyc 4.8 printed", () => {
  const { reply } = decodeReply(hex(golden.ntpData2Reply));
  assert.ok(reply.kind === "ntp_data");
  // chronyc 4.8 printed "NTP tests       : 111 111 1101" for flags 0x03fd (test 9 failed)
  assert.match(formatNtpData(reply.report, false, true), /^NTP tests {7}: 111 111 1101$/m);
  assert.equal(ntpDataJson(reply.report).tests, "1111111101");
});
