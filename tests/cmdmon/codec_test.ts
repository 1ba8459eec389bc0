import assert from "node:assert/strict";
import { golden, hex } from "./golden.ts";
import {
  decodeFloat,
  encodeFloat,
  parseAddress,
  Req,
  Rpy,
  Status,
  WireReader,
  WireWriter,
} from "../../lib/cmdmon/wire.ts";
import {
  decodeRequest,
  decodeRequestHeader,
  encodeRequest,
  minRequestLength,
  requestKindOf,
  sendRequestLength,
} from "../../lib/cmdmon/request.ts";
import { decodeReply, encodeReply } from "../../lib/cmdmon/reports.ts";

Deno.test("float: captured chronyc words decode to the typed values", () => {
  assert.equal(decodeFloat(0x06c00000), 3);
  assert.equal(decodeFloat(0x0aa00000), 10);
  assert.equal(decodeFloat(0x04800000), 1);
  assert.equal(decodeFloat(0x02800000), 0.5);
  assert.ok(Math.abs(decodeFloat(0xfccccccd) - 0.1) < 1e-8);
});

Deno.test("float: encoding matches chronyc's words and round-trips within 2^-24 relative", () => {
  assert.equal(encodeFloat(3), 0x06c00000);
  assert.equal(encodeFloat(0.5), 0x02800000);
  assert.equal(encodeFloat(0.1), 0xfccccccd);
  assert.equal(encodeFloat(1000), 0x16fa0000);
  assert.equal(encodeFloat(0), 0);
  for (const x of [-1.5e-9, 123456.789, -0.000123, 1e-15, 7e10]) {
    const y = decodeFloat(encodeFloat(x));
    assert.ok(Math.abs(y - x) <= Math.abs(x) * 2 ** -23, `${x} -> ${y}`);
  }
});

Deno.test("timespec and IPv6 address round-trip through writer and reader", () => {
  const w = new WireWriter(32);
  w.timespec(1_795_431_457_908_788_426n);
  w.address({ family: "inet6", address: "2001:db8::1" });
  const r = new WireReader(w.bytes);
  assert.equal(r.timespec(), 1_795_431_457_908_788_426n);
  assert.deepEqual(r.address(), { family: "inet6", address: "2001:db8::1" });
  assert.deepEqual(parseAddress("::ffff:1.2.3.4"), { family: "inet6", address: "::ffff:1.2.3.4" });
  assert.equal(parseAddress("1.2.3"), null);
});

Deno.test("tracking request: horae encodes the bytes chronyc 4.3 sends (sequence aside)", () => {
  const captured = hex(golden.trackingRequest);
  const seq = decodeRequestHeader(captured).sequence;
  assert.deepEqual(encodeRequest({ kind: "tracking" }, { sequence: seq, attempt: 0 }), captured);
});

Deno.test("captured control requests decode to the values typed at chronyc", () => {
  const add = hex(golden.addSourceRequest);
  assert.equal(add.length, 372);
  const req = decodeRequest(add, "add_source");
  assert.equal(req.kind, "add_source");
  if (req.kind !== "add_source") return;
  assert.equal(req.name, "127.0.0.2");
  assert.equal(req.port, 11111);
  assert.equal(req.minpoll, 4);
  assert.equal(req.maxDelay, 3);
  assert.equal(req.asymmetry, 1);
  assert.equal(req.flags, 5);
  const h = decodeRequestHeader(add);
  assert.deepEqual(encodeRequest(req, { sequence: h.sequence, attempt: 0 }), add);

  const local = decodeRequest(hex(golden.local2Request), "local2");
  assert.deepEqual(local, { kind: "local2", onOff: 1, stratum: 10, distance: 1, orphan: 0 });
  const md = decodeRequest(hex(golden.maxdelayRequest), "modify_maxdelay");
  assert.deepEqual(md, {
    kind: "modify_maxdelay",
    address: { family: "inet4", address: "127.0.0.1" },
    value: 0.5,
  });
  const online = decodeRequest(hex(golden.onlineAddressRequest), "online");
  assert.deepEqual(online, {
    kind: "online",
    mask: { family: "inet4", address: "255.255.255.255" },
    address: { family: "inet4", address: "127.0.0.1" },
  });
});

Deno.test("request lengths: chronyd 4.3 minimums equal chronyc 4.3's captured lengths", () => {
  const captured: [number, number][] = [
    [Req.TRACKING, 104],
    [Req.N_SOURCES, 32],
    [Req.SOURCE_DATA, 76],
    [Req.SOURCESTATS, 84],
    [Req.ACTIVITY, 48],
    [Req.SERVER_STATS, 72],
    [Req.CLIENT_ACCESSES_BY_INDEX3, 520],
    [Req.NTP_DATA, 152],
    [Req.AUTH_DATA, 52],
    [Req.SELECT_DATA, 76],
    [Req.NTP_SOURCE_NAME, 284],
    [Req.MANUAL_LIST, 416],
    [Req.RTCREPORT, 56],
    [Req.SMOOTHING, 52],
    [Req.DUMP, 28],
    [Req.BURST, 68],
    [Req.ONLINE, 60],
    [Req.ACCHECK, 40],
    [Req.ALLOW, 44],
    [Req.LOCAL2, 36],
    [Req.ADD_SOURCE, 372],
    [Req.MODIFY_MAXDELAY, 44],
    [Req.MODIFY_MAKESTEP, 28],
  ];
  for (const [code, len] of captured) {
    const kind = requestKindOf(code);
    assert.ok(kind, `code ${code}`);
    assert.equal(minRequestLength(kind), len, kind);
  }
  // horae's chronyc pads for the newest layouts (SERVER_STATS4, NTP_DATA2)
  assert.equal(sendRequestLength("server_stats"), 196);
  assert.equal(sendRequestLength("ntp_data"), 172);
});

Deno.test("captured replies decode, and re-encode to the same bytes", () => {
  for (
    const name of [
      "trackingReply",
      "sourceDataReply",
      "sourcestatsReply",
      "activityReply",
      "serverStats3Reply",
      "clientsReply",
      "ntpDataReply",
      "authDataReply",
      "selectDataReply",
      "smoothingNotEnabledReply",
    ] as const
  ) {
    const bytes = hex(golden[name]);
    const { header, reply } = decodeReply(bytes);
    assert.deepEqual(encodeReply(reply, header), bytes, name);
  }
});

Deno.test("tracking reply fields match what chronyc printed for the capture", () => {
  const { header, reply } = decodeReply(hex(golden.trackingReply));
  assert.equal(header.reply, Rpy.TRACKING);
  assert.equal(header.status, Status.SUCCESS);
  assert.equal(reply.kind, "tracking");
  if (reply.kind !== "tracking") return;
  assert.equal(reply.report.refId, 0x7f000001);
  assert.equal(reply.report.stratum, 2);
  assert.deepEqual(reply.report.address, { family: "inet4", address: "127.0.0.1" });
  assert.equal(Number(reply.report.refTime / 1_000_000_000n) % 60, 3); // 10:56:03 UTC
});

Deno.test("ntpdata (4.3 layout) and serverstats v3 decode their counters", () => {
  const nd = decodeReply(hex(golden.ntpDataReply)).reply;
  assert.equal(nd.kind, "ntp_data");
  if (nd.kind === "ntp_data") {
    assert.equal(nd.v2, false);
    assert.equal(nd.report.stratum, 1);
    assert.equal(nd.report.version, 4);
    assert.equal(nd.report.precision, -25);
    assert.equal(nd.report.totalTxCount, 16);
    assert.equal(nd.report.totalGoodCount, 16);
    assert.equal(String.fromCharCode(nd.report.txTssChar), "K");
  }
  const ss = decodeReply(hex(golden.serverStats3Reply)).reply;
  assert.equal(ss.kind, "server_stats");
  if (ss.kind === "server_stats") assert.equal(ss.report.version, 3);
});
