import assert from "node:assert/strict";
import {
  buildClientRequest,
  buildErrorResponse,
  buildRefusalResponse,
  buildServerResponse,
  completeMessageLength,
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

Deno.test("ke_records: request round trip with server and port", () => {
  const req = parseClientRequest(
    buildClientRequest({ aeads: [15, 17], server: "ntp.example", port: 1123 }),
  );
  assert.deepEqual(req, {
    nextProtocols: [0],
    aeads: [15, 17],
    server: "ntp.example",
    port: 1123,
  });
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
