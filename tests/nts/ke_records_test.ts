import assert from "node:assert/strict";
import {
  buildClientRequest,
  buildErrorResponse,
  buildRefusalResponse,
  buildServerResponse,
  completeMessageLength,
  completeRequestLength,
  decodeMessage,
  encodeRecords,
  exporterContext,
  negotiate,
  NtsKeError,
  parseClientRequest,
  parseServerResponse,
  RecordType,
} from "../../lib/nts/ke_records.ts";

const EOM = { type: RecordType.END_OF_MESSAGE, critical: true, body: new Uint8Array(0) };

function kind(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof NtsKeError, String(e));
    return e.kind;
  }
  return "no error";
}

Deno.test("ke_records: client request bytes are Next Protocol, AEAD, End of Message (critical)", () => {
  assert.deepEqual(
    buildClientRequest({ aeads: [15] }),
    Uint8Array.from([0x80, 1, 0, 2, 0, 0, 0x80, 4, 0, 2, 0, 15, 0x80, 0, 0, 0]),
  );
});

Deno.test("ke_records: request round trip; the client's non-critical server/port are ignored", () => {
  const req = parseClientRequest(
    buildClientRequest({ aeads: [15, 17], server: "ntp.example", port: 1123 }),
  );
  assert.deepEqual(req, { nextProtocols: [0], aeads: [15, 17] });
  assert.deepEqual(negotiate(req, [15]), { kind: "accept", aead: 15 });
  assert.deepEqual(negotiate(req, [30]), { kind: "refuse", reason: "no-aead" });
  assert.deepEqual(negotiate({ nextProtocols: [5], aeads: [15] }, [15]), {
    kind: "refuse",
    reason: "no-protocol",
  });
});

Deno.test("ke_records: server response round trip", () => {
  const cookies = [new Uint8Array(104).fill(1), new Uint8Array(104).fill(2)];
  const bytes = buildServerResponse({ aead: 15, cookies, server: "10.0.0.1", port: 4123 });
  assert.equal(completeMessageLength(bytes), bytes.length);
  assert.equal(completeMessageLength(bytes.subarray(0, bytes.length - 1)), null);
  const res = parseServerResponse(bytes, { aeads: [15] });
  assert.deepEqual(res, {
    nextProtocol: 0,
    aead: 15,
    cookies,
    server: "10.0.0.1",
    port: 4123,
    warnings: [],
  });
});

Deno.test("ke_records: the server sends the port then the server name, both critical (as chronyd)", () => {
  const bytes = buildServerResponse({
    aead: 15,
    cookies: [Uint8Array.of(1, 2)],
    server: "a",
    port: 1,
  });
  assert.deepEqual(
    bytes,
    Uint8Array.of(
      ...[0x80, 1, 0, 2, 0, 0], // Next Protocol NTPv4
      ...[0x80, 4, 0, 2, 0, 15], // AEAD 15
      ...[0x80, 7, 0, 2, 0, 1], // Port 1
      ...[0x80, 6, 0, 1, 0x61], // Server "a"
      ...[0, 5, 0, 2, 1, 2], // New Cookie
      ...[0x80, 0, 0, 0], // End of Message
    ),
  );
});

/** The first fault decides, as chronyd 4.3 (tests/interop/nts_ke_diff_test.ts checks against it). */
Deno.test("ke_records: a server judges requests as chronyd 4.3 does", () => {
  const u16 = (...v: number[]) => Uint8Array.from(v.flatMap((x) => [x >> 8, x & 0xff]));
  const rec = (type: number, critical: boolean, body = new Uint8Array(0)) => ({
    type,
    critical,
    body,
  });
  const NEXT = (...p: number[]) => rec(1, true, u16(...p));
  const AEAD = (...a: number[]) => rec(4, true, u16(...a));
  const req = (...r: ReturnType<typeof rec>[]) => encodeRecords([...r, EOM]);
  const code = (bytes: Uint8Array): string => {
    try {
      const r = parseClientRequest(bytes);
      const n = negotiate(r, [15]);
      return n.kind === "accept" ? `accept ${n.aead}` : n.reason;
    } catch (e) {
      assert.ok(e instanceof NtsKeError);
      return e.kind === "malformed" || e.kind === "too-long" ? e.kind : `error ${e.errorCode}`;
    }
  };
  assert.equal(code(req(NEXT(0), AEAD(30, 15))), "accept 15");
  assert.equal(code(req(NEXT(0), rec(4, false, u16(15)))), "accept 15"); // AEAD may be non-critical
  assert.equal(code(req(NEXT(0), AEAD(30))), "no-aead");
  assert.equal(code(req(NEXT(1), AEAD(15))), "no-protocol");
  assert.equal(code(req(NEXT(1))), "no-protocol"); // no AEAD record is fine without NTPv4
  assert.equal(code(req(NEXT(1, 0))), "error 1"); // ...but not with it
  assert.equal(code(req(NEXT(0))), "error 1");
  assert.equal(code(req(NEXT(), AEAD(15))), "error 1"); // empty Next Protocol
  assert.equal(code(req(NEXT(1), AEAD())), "error 1"); // empty AEAD
  assert.equal(code(req(rec(1, false, u16(0)), AEAD(15))), "error 1"); // Next Protocol not critical
  assert.equal(code(req(NEXT(0), AEAD(15), rec(6, false, u16(1)))), "accept 15"); // client's Server
  assert.equal(code(req(NEXT(0), AEAD(15), rec(7, false))), "accept 15"); // client's Port, even empty
  assert.equal(code(req(NEXT(0), AEAD(15), rec(6, true, u16(1)))), "error 0");
  assert.equal(code(req(NEXT(0), AEAD(15), rec(7, true, u16(123)))), "error 0");
  assert.equal(code(req(NEXT(0), AEAD(15), rec(5, false))), "error 1"); // a cookie from a client
  assert.equal(code(req(NEXT(0), AEAD(15), rec(2, true, u16(1)), rec(99, true))), "error 1");
  assert.equal(code(req(NEXT(0), AEAD(15), rec(99, true), rec(2, true, u16(1)))), "error 0");
  assert.equal(code(req(rec(1, false, u16(0)), AEAD(15), rec(99, true))), "error 1");
  assert.equal(code(req(NEXT(1), AEAD(15), rec(99, true))), "error 0"); // before refusing
  // Framing: End of Message last, critical and empty.
  assert.equal(code(encodeRecords([NEXT(0), AEAD(15), { ...EOM, critical: false }])), "malformed");
  assert.equal(code(encodeRecords([NEXT(0), AEAD(15), { ...EOM, body: u16(0) }])), "malformed");
  assert.equal(code(encodeRecords([NEXT(0), EOM, AEAD(15), EOM])), "malformed");
});

Deno.test("ke_records: a request is complete when whole records end with End of Message", () => {
  const ok = buildClientRequest({ aeads: [15] });
  assert.equal(completeRequestLength(ok), ok.length);
  assert.equal(completeRequestLength(ok.subarray(0, 13)), null);
  assert.equal(completeRequestLength(ok.subarray(0, 12)), null); // whole records, no EOM yet
  // Anything after End of Message: still incomplete (chronyd waits, then times out).
  assert.equal(completeRequestLength(Uint8Array.of(...ok, 0x80, 4, 0, 2, 0, 15)), null);
  assert.equal(completeRequestLength(Uint8Array.of(...ok, 0)), null);
  // A non-critical or non-empty last End of Message completes it (and decodeMessage refuses it).
  const nc = Uint8Array.of(...ok.subarray(0, 12), 0, 0, 0, 0);
  assert.equal(completeRequestLength(nc), nc.length);
  assert.equal(kind(() => decodeMessage(nc, true)), "malformed");
  assert.deepEqual(decodeMessage(nc).length, 2); // a client reading a response is lenient
  assert.equal(kind(() => completeRequestLength(new Uint8Array(16385))), "too-long");
  assert.equal(kind(() => completeRequestLength(Uint8Array.of(0, 9, 0x40, 0))), "too-long");
});

Deno.test("ke_records: unknown critical record is an error, unknown non-critical is ignored", () => {
  const unknown = (critical: boolean) =>
    encodeRecords([
      { type: 1, critical: true, body: Uint8Array.of(0, 0) },
      { type: 4, critical: true, body: Uint8Array.of(0, 15) },
      { type: 0x1234, critical, body: Uint8Array.of(9) },
      EOM,
    ]);
  assert.equal(kind(() => parseClientRequest(unknown(true))), "unrecognized-critical");
  try {
    parseClientRequest(unknown(true));
  } catch (e) {
    assert.equal((e as NtsKeError).errorCode, 0);
  }
  assert.deepEqual(parseClientRequest(unknown(false)).aeads, [15]);
});

Deno.test("ke_records: framing errors are typed", () => {
  const ok = buildClientRequest({ aeads: [15] });
  assert.equal(kind(() => decodeMessage(ok.subarray(0, 12))), "malformed"); // no End of Message
  assert.equal(kind(() => decodeMessage(ok.subarray(0, 14))), "malformed"); // truncated header
  assert.equal(kind(() => decodeMessage(Uint8Array.of(...ok, 0, 0))), "malformed"); // after EOM
  assert.equal(
    kind(() => decodeMessage(encodeRecords([{ ...EOM, body: Uint8Array.of(1) }]))),
    "malformed",
  );
  assert.equal(kind(() => decodeMessage(new Uint8Array(20000))), "too-long");
  assert.equal(kind(() => parseClientRequest(encodeRecords([EOM]))), "bad-request");
});

Deno.test("ke_records: client rejects errors, refusals and inconsistent responses", () => {
  const offered = { aeads: [15] };
  assert.equal(kind(() => parseServerResponse(buildErrorResponse(1), offered)), "server-error");
  assert.match(
    (() => {
      try {
        parseServerResponse(buildErrorResponse(2), offered);
      } catch (e) {
        return (e as Error).message;
      }
      return "";
    })(),
    /Internal Server Error/,
  );
  assert.equal(
    kind(() => parseServerResponse(buildRefusalResponse("no-protocol"), offered)),
    "no-protocol",
  );
  assert.equal(
    kind(() => parseServerResponse(buildRefusalResponse("no-aead"), offered)),
    "no-aead",
  );
  const cookie = [new Uint8Array(8)];
  assert.equal(
    kind(() => parseServerResponse(buildServerResponse({ aead: 16, cookies: cookie }), offered)),
    "bad-request",
  );
  assert.equal(
    kind(() => parseServerResponse(buildServerResponse({ aead: 15, cookies: [] }), offered)),
    "bad-request",
  );
});

Deno.test("ke_records: exporter context is protocol 0, AEAD id, direction byte (RFC 8915 §5.1)", () => {
  assert.deepEqual(exporterContext(15, "c2s"), Uint8Array.of(0, 0, 0, 15, 0));
  assert.deepEqual(exporterContext(15, "s2c"), Uint8Array.of(0, 0, 0, 15, 1));
});

Deno.test("record 1024 (chrony 4.6.1+ compliant AES-128-GCM-SIV keys): sent, echoed, context", () => {
  const req = buildClientRequest({ aeads: [30, 15], compliant128gcm: true });
  const types = decodeMessage(req).map((r) => [r.type, r.critical, r.body.length]);
  assert.deepEqual(types[2], [1024, false, 0]);
  assert.equal(parseClientRequest(req).compliant128gcm, true);
  assert.equal(parseClientRequest(buildClientRequest({ aeads: [30] })).compliant128gcm, undefined);
  const cookie = new Uint8Array(68);
  const res = buildServerResponse({ aead: 30, cookies: [cookie], compliant128gcm: true });
  assert.equal(parseServerResponse(res, { aeads: [30, 15] }).compliant128gcm, true);
  const plain = buildServerResponse({ aead: 30, cookies: [cookie] });
  assert.equal(parseServerResponse(plain, { aeads: [30, 15] }).compliant128gcm, undefined);
  // RFC 8915 §5.1 context carries 30 only when negotiated; 15 otherwise (chrony 4.4-4.6 keys)
  assert.deepEqual([...exporterContext(30, "c2s")], [0, 0, 0, 30, 0]);
  assert.deepEqual([...exporterContext(30, "s2c", false)], [0, 0, 0, 15, 1]);
  assert.deepEqual([...exporterContext(15, "c2s", false)], [0, 0, 0, 15, 0]);
});
