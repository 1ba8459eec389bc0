import assert from "node:assert/strict";
import { ServerKeyRing } from "../../lib/nts/cookie.ts";
import {
  buildNtsNak,
  buildNtsReply,
  buildNtsRequest,
  NtsAuthError,
  requestUniqueId,
  verifyNtsReply,
  verifyNtsRequest,
} from "../../lib/nts/ntp_auth.ts";
import { AES_SIV_CMAC_256 } from "../../lib/nts/siv.ts";

function rnd(n: number, seed: number): Uint8Array {
  return new Uint8Array(n).map((_, i) => (i * 13 + seed * 101 + 5) & 0xff);
}

const ring = ServerKeyRing.fresh(rnd(144, 1), 0n, 3600);
const keys = { aead: 15, c2s: rnd(32, 2), s2c: rnd(32, 3) };
const open = (c: Uint8Array) => ring.openCookie(c);

function request(placeholders = 2) {
  const uniqueId = rnd(32, 4);
  const header = rnd(48, 5);
  header[0] = 0x23;
  const bytes = buildNtsRequest(header, {
    uniqueId,
    cookie: ring.makeCookie(keys, rnd(16, 6)),
    placeholders,
    aead: AES_SIV_CMAC_256,
    c2s: keys.c2s,
    nonce: rnd(16, 7),
  });
  return { uniqueId, header, bytes };
}

function failure(fn: () => unknown): NtsAuthError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof NtsAuthError, String(e));
    return e;
  }
  assert.fail("no error");
}

Deno.test("ntp_auth: request -> server -> reply -> client round trip", () => {
  const { uniqueId, bytes } = request(2);
  // 48 header + 36 UID + 104 cookie + 2 x 104 placeholders + 40 authenticator
  assert.equal(bytes.length, 48 + 36 + 104 + 208 + 40);
  const v = verifyNtsRequest(bytes, open);
  assert.deepEqual(v.uniqueId, uniqueId);
  assert.deepEqual(v.keys, keys);
  assert.equal(v.cookiesWanted, 3);
  assert.deepEqual(v.encryptedFields, []);

  const fresh = Array.from(
    { length: v.cookiesWanted },
    (_, i) => ring.makeCookie(keys, rnd(16, i)),
  );
  const replyHeader = rnd(48, 9);
  replyHeader[0] = 0x24;
  replyHeader[1] = 1;
  const reply = buildNtsReply(replyHeader, {
    uniqueId: v.uniqueId,
    aead: AES_SIV_CMAC_256,
    s2c: v.keys.s2c,
    cookies: fresh,
    nonce: rnd(16, 10),
  });
  const check = verifyNtsReply(reply, { uniqueId, aead: AES_SIV_CMAC_256, s2c: keys.s2c });
  assert.deepEqual(check, {
    kind: "ok",
    cookies: fresh,
    encryptedFields: fresh.map((body) => ({ type: 0x0204, body })),
  });
});

Deno.test("ntp_auth: any altered request byte is refused (NAK for cookie/auth failures)", () => {
  const { bytes } = request(1);
  for (let i = 0; i < bytes.length; i++) {
    const bad = bytes.slice();
    bad[i]! ^= 0x01;
    let refused = false;
    try {
      verifyNtsRequest(bad, open);
    } catch (e) {
      assert.ok(e instanceof NtsAuthError, `byte ${i}: ${e}`);
      refused = true;
    }
    assert.ok(refused, `byte ${i} accepted`);
  }
  assert.equal(failure(() => verifyNtsRequest(bytes, () => null)).kind, "cookie");
  assert.equal(failure(() => verifyNtsRequest(bytes, () => null)).nak, true);
  const wrongKey = { ...keys, c2s: keys.s2c };
  const e = failure(() => verifyNtsRequest(bytes, () => wrongKey));
  assert.equal(e.kind, "auth");
  assert.equal(e.nak, true);
});

Deno.test("ntp_auth: missing fields and garbage after the header are malformed", () => {
  const { bytes } = request(0);
  assert.equal(failure(() => verifyNtsRequest(bytes.subarray(0, 48 + 36), open)).kind, "malformed");
  assert.equal(failure(() => verifyNtsRequest(bytes.subarray(0, 47), open)).kind, "malformed");
  assert.equal(
    failure(() => verifyNtsRequest(Uint8Array.of(...bytes, 1, 2, 3, 4), open)).kind,
    "malformed",
  );
});

Deno.test("ntp_auth: client refuses a reply with another unique id, wrong key or alterations", () => {
  const { uniqueId } = request();
  const reply = buildNtsReply(rnd(48, 11), {
    uniqueId,
    aead: AES_SIV_CMAC_256,
    s2c: keys.s2c,
    cookies: [rnd(104, 1)],
    nonce: rnd(16, 12),
  });
  const ok = { uniqueId, aead: AES_SIV_CMAC_256, s2c: keys.s2c };
  assert.equal(verifyNtsReply(reply, ok).kind, "ok");
  assert.equal(
    failure(() => verifyNtsReply(reply, { ...ok, uniqueId: rnd(32, 99) })).kind,
    "unique-id",
  );
  assert.equal(failure(() => verifyNtsReply(reply, { ...ok, s2c: keys.c2s })).kind, "auth");
  for (let i = 0; i < reply.length; i++) {
    const bad = reply.slice();
    bad[i]! ^= 0x40;
    assert.throws(() => verifyNtsReply(bad, ok), NtsAuthError, `byte ${i}`);
  }
});

Deno.test("ntp_auth: NTS NAK carries the unique id and kiss code NTSN", () => {
  const { uniqueId, bytes } = request();
  assert.deepEqual(requestUniqueId(bytes), uniqueId);
  assert.equal(requestUniqueId(new Uint8Array(10)), null);
  const nak = buildNtsNak(rnd(48, 13), uniqueId);
  assert.equal(nak[1], 0);
  assert.equal(new TextDecoder().decode(nak.subarray(12, 16)), "NTSN");
  const ok = { uniqueId, aead: AES_SIV_CMAC_256, s2c: keys.s2c };
  assert.deepEqual(verifyNtsReply(nak, ok), { kind: "nak" });
  // A NAK for someone else's request is not ours to act on.
  assert.equal(
    failure(() => verifyNtsReply(nak, { ...ok, uniqueId: rnd(32, 98) })).kind,
    "unique-id",
  );
});
