import assert from "node:assert/strict";
import { encodeExtensionField } from "../../lib/ntp/extension_field.ts";
import { ServerKeyRing } from "../../lib/nts/cookie.ts";
import {
  buildNtsRequest,
  KISS_NTSN,
  NtsAuthError,
  verifyNtsReply,
  verifyNtsRequest,
} from "../../lib/nts/ntp_auth.ts";
import { NtsServerAuth } from "../../lib/nts/server_auth.ts";
import { AES_SIV_CMAC_256 } from "../../lib/nts/siv.ts";

function rnd(n: number, seed: number): Uint8Array {
  return new Uint8Array(n).map((_, i) => (i * 13 + seed * 101 + 5) & 0xff);
}

let counter = 0;
const random = (n: number) => rnd(n, ++counter);
const ring = ServerKeyRing.fresh(rnd(144, 1), 0n, 3600);
const keys = { aead: 15, c2s: rnd(32, 2), s2c: rnd(32, 3) };

function request(placeholders: number, uidLength = 32): { bytes: Uint8Array; uid: Uint8Array } {
  const header = rnd(48, 5);
  header[0] = 0x23;
  const uid = rnd(uidLength, 4);
  const bytes = buildNtsRequest(header, {
    uniqueId: uid,
    cookie: ring.makeCookie(keys, rnd(16, 6)),
    placeholders,
    aead: AES_SIV_CMAC_256,
    c2s: keys.c2s,
    nonce: rnd(16, 7),
  });
  return { bytes, uid };
}

/** check + complete as the NTP server does: the reply is written over the request. */
function serve(auth: NtsServerAuth, req: Uint8Array): { verdict: string; reply: Uint8Array } {
  const buf = new Uint8Array(2048);
  buf.set(req);
  const verdict = auth.check(buf.subarray(0, req.length));
  if (verdict === "plain" || verdict === "drop") return { verdict, reply: new Uint8Array(0) };
  buf[0] = 0x24; // the responder's header
  buf[1] = 1;
  buf.fill(0, 2, 48);
  const n = auth.complete(buf);
  return { verdict, reply: buf.slice(0, n) };
}

/** What the allocating reference path says about a request. */
function reference(req: Uint8Array): string {
  try {
    verifyNtsRequest(req, (c) => ring.openCookie(c));
    return "ok";
  } catch (e) {
    if (!(e instanceof NtsAuthError)) throw e;
    return e.nak ? "nak" : "drop";
  }
}

Deno.test("NTS server: replies verify, carry min(8, 1 + placeholders) cookies and fit the request", () => {
  const auth = new NtsServerAuth({ ring, randomBytes: random, now: () => 0n });
  for (const placeholders of [0, 1, 3, 7, 9]) {
    for (const uidLength of [32, 44]) {
      const { bytes, uid } = request(placeholders, uidLength);
      const { verdict, reply } = serve(auth, bytes);
      assert.equal(verdict, "ok");
      assert.ok(reply.length > 48 && reply.length <= bytes.length);
      const r = verifyNtsReply(reply, { uniqueId: uid, aead: AES_SIV_CMAC_256, s2c: keys.s2c });
      assert.equal(r.kind, "ok");
      if (r.kind !== "ok") continue;
      assert.equal(r.cookies.length, Math.min(8, 1 + placeholders));
      for (const c of r.cookies) assert.deepEqual(ring.openCookie(c), keys);
      assert.equal(new Set(r.cookies.map((c) => c.join())).size, r.cookies.length, "fresh nonces");
    }
  }
  assert.equal(auth.stats.authenticated, 10);
});

Deno.test("NTS server: every altered request byte gets the reference verdict, never a wrong ok", () => {
  const auth = new NtsServerAuth({ ring, randomBytes: random, now: () => 0n });
  const { bytes } = request(2);
  // A field after the Authenticator is not authenticated but must still parse.
  const extra = new Uint8Array(bytes.length + 16);
  extra.set(bytes);
  extra.set(encodeExtensionField({ type: 0x7777, body: new Uint8Array(12) }), bytes.length);
  for (const base of [bytes, extra]) {
    for (let i = 48; i < base.length; i++) {
      for (const flip of [0x01, 0x80]) {
        const bad = base.slice();
        bad[i]! ^= flip;
        const { verdict } = serve(auth, bad);
        if (verdict === "plain") continue; // the Unique Identifier's type was altered
        assert.equal(verdict, reference(bad), `byte ${i} ^ ${flip}`);
        const unauthenticated = i >= bytes.length; // the field after the Authenticator
        if (!unauthenticated) assert.notEqual(verdict, "ok", `byte ${i} ^ ${flip}`);
      }
    }
  }
  assert.equal(serve(auth, extra).verdict, "ok");
});

Deno.test("NTS server: unknown cookie key -> NAK with the Unique Identifier and NTSN", () => {
  const other = ServerKeyRing.fresh(rnd(144, 9), 0n, 3600);
  const auth = new NtsServerAuth({ ring: other, randomBytes: random, now: () => 0n });
  const { bytes, uid } = request(1);
  const { verdict, reply } = serve(auth, bytes);
  assert.equal(verdict, "nak");
  assert.equal(reply.length, 48 + 36);
  assert.equal(reply[1], 0);
  assert.equal(new DataView(reply.buffer).getUint32(12), KISS_NTSN);
  assert.equal(
    verifyNtsReply(reply, { uniqueId: uid, aead: AES_SIV_CMAC_256, s2c: keys.s2c }).kind,
    "nak",
  );
  assert.equal(auth.stats.naks, 1);
});
