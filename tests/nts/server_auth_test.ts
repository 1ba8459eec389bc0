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
      assert.equal(reply.length, bytes.length);
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
  for (let i = 48; i < bytes.length; i++) {
    for (const flip of [0x01, 0x80]) {
      const bad = bytes.slice();
      bad[i]! ^= flip;
      const { verdict } = serve(auth, bad);
      assert.equal(verdict, reference(bad), `byte ${i} ^ ${flip}`);
      assert.notEqual(verdict, "ok", `byte ${i} ^ ${flip}`);
    }
  }
  assert.equal(serve(auth, bytes).verdict, "ok");
});

/** Rebuilds a request from its parts (sealed with the right key unless said). */
function custom(parts: {
  uids?: Uint8Array[];
  before?: Uint8Array[];
  after?: Uint8Array;
  nonce?: number;
  plain?: Uint8Array;
  lengths?: [number, number];
}): Uint8Array {
  const header = rnd(48, 5);
  header[0] = 0x23;
  const fields = [
    header,
    ...(parts.uids ?? [rnd(32, 4)]).map((u) => encodeExtensionField({ type: 0x0104, body: u })),
    encodeExtensionField({ type: 0x0204, body: ring.makeCookie(keys, rnd(16, 6)) }),
    ...(parts.before ?? []),
  ];
  const prefix = new Uint8Array(fields.reduce((a, f) => a + f.length, 0));
  fields.reduce((o, f) => (prefix.set(f, o), o + f.length), 0);
  const nonce = rnd(parts.nonce ?? 16, 7);
  const ct = AES_SIV_CMAC_256.seal(keys.c2s, nonce, prefix, parts.plain ?? new Uint8Array(0));
  const pad = (n: number) => (n + 3) & ~3;
  const body = new Uint8Array(4 + pad(nonce.length) + pad(ct.length));
  const v = new DataView(body.buffer);
  v.setUint16(0, parts.lengths?.[0] ?? nonce.length);
  v.setUint16(2, parts.lengths?.[1] ?? ct.length);
  body.set(nonce, 4);
  body.set(ct, 4 + pad(nonce.length));
  const auth = encodeExtensionField({ type: 0x0404, body });
  const after = parts.after ?? new Uint8Array(0);
  const out = new Uint8Array(prefix.length + auth.length + after.length);
  out.set(prefix);
  out.set(auth, prefix.length);
  out.set(after, prefix.length + auth.length);
  return out;
}

Deno.test("NTS server: a Unique Identifier shorter than 32 bytes is served, as chronyd 4.3", () => {
  const auth = new NtsServerAuth({ ring, randomBytes: random, now: () => 0n });
  const uid = rnd(12, 8);
  const req = custom({ uids: [uid] });
  const { verdict, reply } = serve(auth, req);
  assert.equal(verdict, "ok");
  const r = verifyNtsReply(reply, { uniqueId: uid, aead: AES_SIV_CMAC_256, s2c: keys.s2c });
  assert.equal(r.kind, "ok");
});

Deno.test("NTS server: every Unique Identifier is echoed and the reply is padded to the request", () => {
  const auth = new NtsServerAuth({ ring, randomBytes: random, now: () => 0n });
  const a = rnd(32, 10), b = rnd(40, 11);
  // An unknown field before the Authenticator makes the request longer than the reply.
  const req = custom({
    uids: [a, b],
    before: [encodeExtensionField({ type: 0x2005, body: rnd(28, 3) })],
  });
  const { verdict, reply } = serve(auth, req);
  assert.equal(verdict, "ok");
  assert.equal(reply.length, req.length);
  assert.deepEqual(reply.subarray(48, 48 + 36 + 44), req.subarray(48, 48 + 36 + 44));
  const r = verifyNtsReply(reply, { uniqueId: a, aead: AES_SIV_CMAC_256, s2c: keys.s2c });
  assert.equal(r.kind, "ok");
  if (r.kind === "ok") assert.equal(r.cookies.length, 1);
});

Deno.test("NTS server: Authenticator faults get a NAK (leap 3), a field after it is dropped", () => {
  const auth = new NtsServerAuth({ ring, randomBytes: random, now: () => 0n });
  const naks: [string, Uint8Array][] = [
    ["nonce length 0", custom({ lengths: [0, 16] })],
    ["nonce length past the field", custom({ lengths: [0x400, 16] })],
    ["ciphertext length past the field", custom({ lengths: [16, 0x400] })],
    ["ciphertext shorter than the tag", custom({ lengths: [16, 12] })],
    ["nonce of 12 bytes", custom({ nonce: 12 })],
  ];
  for (const [name, req] of naks) {
    const { verdict, reply } = serve(auth, req);
    assert.equal(verdict, "nak", name);
    assert.equal(reference(req), "nak", name);
    assert.equal(reply[0]! >> 6, 3, name);
    assert.equal(reply[1], 0, name);
    assert.equal(new DataView(reply.buffer).getUint32(12), KISS_NTSN, name);
    assert.equal(reply.length, 48 + 36, name);
  }
  const drops: [string, Uint8Array][] = [
    [
      "field after the Authenticator",
      custom({ after: encodeExtensionField({ type: 0x2005, body: rnd(12, 1) }) }),
    ],
    ["no Unique Identifier", custom({ uids: [] })],
    [
      "two cookies",
      custom({ before: [encodeExtensionField({ type: 0x0204, body: rnd(100, 2) })] }),
    ],
    [
      "placeholder of another length",
      custom({ before: [encodeExtensionField({ type: 0x0304, body: rnd(12, 2) })] }),
    ],
  ];
  for (const [name, req] of drops) {
    assert.equal(serve(auth, req).verdict, "drop", name);
    assert.equal(reference(req), "drop", name);
  }
});

Deno.test("NTS server: placeholders inside the Authenticator ask for cookies too", () => {
  const auth = new NtsServerAuth({ ring, randomBytes: random, now: () => 0n });
  const cookieLength = ring.makeCookie(keys, rnd(16, 6)).length;
  const placeholder = encodeExtensionField({ type: 0x0304, body: new Uint8Array(cookieLength) });
  const req = custom({ plain: Uint8Array.of(...placeholder, ...placeholder) });
  const { verdict, reply } = serve(auth, req);
  assert.equal(verdict, "ok");
  const r = verifyNtsReply(reply, { uniqueId: rnd(32, 4), aead: AES_SIV_CMAC_256, s2c: keys.s2c });
  assert.equal(r.kind === "ok" ? r.cookies.length : 0, 3);
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

Deno.test("NTS server: the client key cache answers each client with its own keys, also on a shared slot", () => {
  const auth = new NtsServerAuth({ ring, randomBytes: random, now: () => 0n });
  // Three clients; a and b share a cache slot (same first C2S byte), c has another one.
  const a = { aead: 15, c2s: rnd(32, 20), s2c: rnd(32, 21) };
  const b = { aead: 15, c2s: rnd(32, 22), s2c: rnd(32, 23) };
  b.c2s[0] = a.c2s[0]!;
  const c = { aead: 15, c2s: rnd(32, 24), s2c: rnd(32, 25) };
  c.c2s[0] = a.c2s[0]! ^ 1;
  const build = (k: typeof a, uid: Uint8Array, c2s = k.c2s) =>
    buildNtsRequest(rnd(48, 5).fill(0x23, 0, 1), {
      uniqueId: uid,
      cookie: ring.makeCookie(k, random(16)),
      placeholders: 0,
      aead: AES_SIV_CMAC_256,
      c2s,
      nonce: random(16),
    });
  for (const k of [a, a, b, a, c, b, b, c, a]) {
    const uid = random(32);
    const { verdict, reply } = serve(auth, build(k, uid));
    assert.equal(verdict, "ok");
    const r = verifyNtsReply(reply, { uniqueId: uid, aead: AES_SIV_CMAC_256, s2c: k.s2c });
    assert.equal(r.kind, "ok");
    if (r.kind === "ok") assert.deepEqual(ring.openCookie(r.cookies[0]!), k);
    // Sealed for this client only: another client's S2C key does not open it.
    const other = k === a ? b : a;
    assert.throws(
      () => verifyNtsReply(reply, { uniqueId: uid, aead: AES_SIV_CMAC_256, s2c: other.s2c }),
      NtsAuthError,
    );
  }
  assert.ok(auth.keyCache.hits > 0 && auth.keyCache.misses >= 5, JSON.stringify(auth.keyCache));
  // A cached client's request signed with a wrong C2S key is still refused.
  const uid = random(32);
  assert.equal(serve(auth, build(a, uid, b.c2s)).verdict, "nak");
});
