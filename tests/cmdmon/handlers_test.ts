import assert from "node:assert/strict";
import { handleRequest, openRequestKinds } from "../../lib/cmdmon/handlers.ts";
import { encodeRequest } from "../../lib/cmdmon/request.ts";
import { decodeReply } from "../../lib/cmdmon/reports.ts";
import { Req, Rpy, Status } from "../../lib/cmdmon/wire.ts";
import { golden, hex } from "./golden.ts";
import { FakeBackend } from "./fake_backend.ts";

const UNIX = { fromUnixSocket: true };
const NET = { fromUnixSocket: false, address: { family: "inet4", address: "127.0.0.1" } } as const;

function status(bytes: Uint8Array | null): number {
  assert.ok(bytes);
  return decodeReply(bytes).header.status;
}

Deno.test("chronyc 4.3's captured tracking request gets a tracking reply of the same length", () => {
  const req = hex(golden.trackingRequest);
  const out = handleRequest(req, NET, new FakeBackend());
  assert.ok(out);
  assert.equal(out.length, req.length);
  const { header, reply } = decodeReply(out);
  assert.equal(header.reply, Rpy.TRACKING);
  assert.equal(header.sequence, 0xff3e02c6);
  assert.equal(reply.kind, "tracking");
});

Deno.test("over the network a control command gets UNAUTH, over the Unix socket it runs", () => {
  const req = encodeRequest({ kind: "dump" }, { sequence: 5, attempt: 0 });
  const be = new FakeBackend();
  assert.equal(status(handleRequest(req, NET, be)), Status.UNAUTH);
  assert.equal(be.controls.length, 0);
  assert.equal(status(handleRequest(req, UNIX, be)), Status.SUCCESS);
  assert.deepEqual(be.controls.map((c) => c.kind), ["dump"]);
  const ss = encodeRequest({ kind: "server_stats" }, { sequence: 5, attempt: 0 });
  assert.equal(status(handleRequest(ss, NET, be)), Status.UNAUTH);
});

Deno.test("bad version gets BADPKTVERSION; short request BADPKTLENGTH; unknown command INVALID", () => {
  const be = new FakeBackend();
  const req = encodeRequest({ kind: "tracking" }, { sequence: 1, attempt: 0 });
  const v5 = req.slice();
  v5[0] = 5;
  assert.equal(status(handleRequest(v5, UNIX, be)), Status.BADPKTVERSION);
  const v4 = req.slice();
  v4[0] = 4;
  assert.equal(handleRequest(v4, UNIX, be), null);
  assert.equal(status(handleRequest(req.subarray(0, 60), UNIX, be)), Status.BADPKTLENGTH);
  const unknown = req.slice();
  unknown[5] = 200;
  assert.equal(status(handleRequest(unknown, UNIX, be)), Status.INVALID);
  const obsolete = req.slice();
  obsolete[5] = Req.LOGON;
  assert.equal(status(handleRequest(obsolete, UNIX, be)), Status.INVALID);
  assert.equal(handleRequest(req.subarray(0, 20), UNIX, be), null);
  const reply = req.slice();
  reply[1] = 2;
  assert.equal(handleRequest(reply, UNIX, be), null);
});

Deno.test("serverstats and ntpdata replies take the newest layout that fits the request", () => {
  const be = new FakeBackend();
  const short = encodeRequest({ kind: "server_stats" }, { sequence: 1, attempt: 0, length: 72 });
  assert.equal(decodeReply(handleRequest(short, UNIX, be)!).header.reply, Rpy.SERVER_STATS3);
  const long = encodeRequest({ kind: "server_stats" }, { sequence: 1, attempt: 0 });
  assert.equal(decodeReply(handleRequest(long, UNIX, be)!).header.reply, Rpy.SERVER_STATS4);
  const nd = hex(golden.ntpDataRequest);
  nd.set([192, 0, 2, 1], 20);
  const r = handleRequest(nd, UNIX, be)!;
  assert.equal(r.length, 152);
  assert.equal(decodeReply(r).header.reply, Rpy.NTP_DATA);
});

Deno.test("absent backend methods give chronyd's not-built statuses", () => {
  const empty = {};
  const st = (kind: "rtcreport" | "smoothing" | "writertc" | "dump") =>
    status(handleRequest(encodeRequest({ kind }, { sequence: 1, attempt: 0 }), UNIX, empty));
  assert.equal(st("rtcreport"), Status.NORTC);
  assert.equal(st("writertc"), Status.NORTC);
  assert.equal(st("smoothing"), Status.NOTENABLED);
  assert.equal(st("dump"), Status.FAILED);
});

Deno.test("cmddeny and cmdratelimit hooks drop remote requests but never localhost", () => {
  const be = new FakeBackend();
  const req = encodeRequest({ kind: "tracking" }, { sequence: 1, attempt: 0 });
  const remote = { fromUnixSocket: false, address: { family: "inet4", address: "192.0.2.9" } };
  const deny = () => false;
  assert.equal(handleRequest(req, { ...remote, cmdAllowed: deny } as never, be), null);
  assert.equal(handleRequest(req, { ...remote, rateLimited: () => true } as never, be), null);
  assert.ok(handleRequest(req, { ...NET, cmdAllowed: deny }, be));
});

Deno.test("only 127.0.0.1 and ::1 are exempt from cmddeny and cmdratelimit, not all of 127/8", () => {
  const be = new FakeBackend();
  const req = encodeRequest({ kind: "tracking" }, { sequence: 1, attempt: 0 });
  const deny = () => false;
  const from = (family: "inet4" | "inet6", address: string) => ({
    fromUnixSocket: false,
    address: { family, address },
  });
  for (const a of ["127.0.0.2", "127.1.0.1", "127.255.255.254"]) {
    assert.equal(handleRequest(req, { ...from("inet4", a), cmdAllowed: deny }, be), null, a);
    assert.equal(handleRequest(req, { ...from("inet4", a), rateLimited: () => true }, be), null, a);
  }
  assert.equal(handleRequest(req, { ...from("inet6", "::2"), cmdAllowed: deny }, be), null);
  assert.ok(handleRequest(req, { ...from("inet4", "127.0.0.1"), cmdAllowed: deny }, be));
  assert.ok(handleRequest(req, { ...from("inet6", "::1"), rateLimited: () => true }, be));
});

Deno.test("a source index out of range gives NOSUCHSOURCE", () => {
  const req = encodeRequest({ kind: "source_data", index: 9 }, { sequence: 1, attempt: 0 });
  assert.equal(status(handleRequest(req, NET, new FakeBackend())), Status.NOSUCHSOURCE);
});

Deno.test("opencommands: only the listed monitoring commands answer over the network", () => {
  const from = {
    fromUnixSocket: false,
    address: { family: "inet4" as const, address: "192.0.2.5" },
  };
  const status = (kind: "tracking" | "server_stats" | "n_sources", open: string[]) => {
    const ctx = { ...from, openKinds: openRequestKinds(open) };
    const r = handleRequest(
      encodeRequest({ kind }, { sequence: 1, attempt: 0 }),
      ctx,
      new FakeBackend(),
    );
    return decodeReply(r!).header.status;
  };
  assert.equal(status("tracking", ["serverstats"]), Status.UNAUTH);
  assert.equal(status("server_stats", ["serverstats"]), Status.SUCCESS);
  assert.equal(status("n_sources", ["selectdata"]), Status.SUCCESS);
  assert.equal(status("n_sources", []), Status.UNAUTH);
  // the Unix socket is never restricted
  const r = handleRequest(
    encodeRequest({ kind: "tracking" }, { sequence: 1, attempt: 0 }),
    { fromUnixSocket: true, openKinds: openRequestKinds([]) },
    new FakeBackend(),
  );
  assert.equal(decodeReply(r!).header.status, Status.SUCCESS);
});
