import assert from "node:assert/strict";
import {
  NtsDumpError,
  parseServerKeys,
  type ServerKey,
  ServerKeyRing,
} from "../../lib/nts/cookie.ts";
import {
  formatServerKeyFile,
  GCM_KEY_COOKIE_LENGTH,
  GCM_KEY_COOKIE_LENGTH_128GCM,
  parseServerKeyFile,
} from "../../lib/nts/server_keys.ts";
import { AES_128_GCM_SIV, AES_SIV_CMAC_256 } from "../../lib/crypto/aead.ts";
import { buildNtsRequest, verifyNtsReply } from "../../lib/nts/ntp_auth.ts";
import { NtsServerAuth } from "../../lib/nts/server_auth.ts";

function rnd(n: number, seed: number): Uint8Array {
  return new Uint8Array(n).map((_, i) => (i * 29 + seed * 11 + 3) & 0xff);
}

/** A file as chronyd 4.8 (built with Nettle 3.8) wrote it on this machine. */
const FROM_48 = [
  "NKS1",
  "0.0",
  "C0CEC9AD F862BBF6F02AB337A1FB28011154B04C8063BA7CC975CD22805DE271C6E385C5 15",
  "6ACDD1CE E8091BD8F453BF6AFDA180EF8CA381E30F352AAD8FEEA2AC190AC9FF07321C28 15",
  "B28EDB0F 9ACC3D16EE9ED4FCAC384E3525123BE98094E3C300277BC3A907124C1E8AF81C 15",
  "832856EC F6CAF19A210066993E684329932B9AAFB5FC80FBF10497A88C3E52059B562692 15",
  "",
].join("\n");

/** Four keys in successive slots from `first`, with the AEADs `aeads` (oldest first). */
function keysOf(first: number, aeads: number[], seed = 1): ServerKey[] {
  return aeads.map((aead, i) => {
    const k: ServerKey = { id: (first + i) >>> 0, key: rnd(aead === 30 ? 16 : 32, seed + i) };
    if (aead !== 15) k.aead = aead;
    return k;
  });
}

const sivKeys = { aead: 15, c2s: rnd(32, 50), s2c: rnd(32, 51) };
const gcmKeys = { aead: 30, c2s: rnd(16, 52), s2c: rnd(16, 53) };

Deno.test("ntskeys: chronyd 4.8's NKS1 file is read; horae writes its AES-SIV keys back as NKS0", () => {
  const file = parseServerKeyFile(FROM_48);
  assert.equal(file.magic, "NKS1");
  assert.equal(file.age, 0);
  assert.deepEqual(file.keys.map((k) => k.id), [0xC0CEC9AD, 0x6ACDD1CE, 0xB28EDB0F, 0x832856EC]);
  assert.ok(file.keys.every((k) => k.aead === undefined && k.key.length === 32));
  assert.equal(file.keys[2]!.key[0], 0x9A);
  const text = formatServerKeyFile(file.keys, 12.24);
  assert.equal(text.split("\n")[0], "NKS0");
  assert.equal(text.split("\n")[1], "15 12.2");
  assert.equal(
    text.split("\n")[4],
    "B28EDB0F 9ACC3D16EE9ED4FCAC384E3525123BE98094E3C300277BC3A907124C1E8AF81C",
  );
  const again = parseServerKeyFile(text);
  assert.equal(again.magic, "NKS0");
  assert.deepEqual(again.keys, file.keys);
  // The daemon's entry point reads both, lower-case hex too.
  assert.deepEqual(
    parseServerKeys(FROM_48.toLowerCase().replace("nks1", "NKS1"), rnd(144, 1)).keys,
    file.keys,
  );
});

Deno.test("ntskeys: keys for AES-128-GCM-SIV (30) round trip as NKS1, alone or mixed with 15", () => {
  for (const aeads of [[30, 30, 30, 30], [15, 30, 30, 15], [30, 15, 15, 15]]) {
    const keys = keysOf(0x1234_5671, aeads);
    const text = formatServerKeyFile(keys, 3);
    const lines = text.trim().split("\n");
    assert.equal(lines[0], "NKS1");
    assert.equal(lines[1], "3.0");
    lines.slice(2).forEach((l, i) => {
      assert.match(
        l,
        aeads[i] === 30 ? /^[0-9A-F]{8} [0-9A-F]{32} 30$/ : /^[0-9A-F]{8} [0-9A-F]{64} 15$/,
      );
    });
    const file = parseServerKeyFile(text);
    assert.deepEqual(file.keys, keys);
    assert.equal(formatServerKeyFile(file.keys, file.age), text);
  }
});

Deno.test("ntskeys: a damaged or unknown file is refused with its line and reason", () => {
  const good = formatServerKeyFile(keysOf(0x10, [30, 15, 15, 15]), 1);
  assert.doesNotThrow(() => parseServerKeyFile(good));
  const nks0 = formatServerKeyFile(keysOf(0x10, [15, 15, 15, 15]), 1);
  const line = (text: string, n: number, f: (l: string) => string) =>
    text.split("\n").map((l, i) => i === n - 1 ? f(l) : l).join("\n");
  const cases: [string, number, RegExp][] = [
    ["", 1, /not an NTS server key file/],
    ["NKS2\n1.0\n", 1, /not an NTS server key file/],
    [line(good, 2, () => "15 1.0"), 2, /not "AGE"/],
    [line(nks0, 2, () => "1.0"), 2, /not "AEAD AGE"/],
    [line(good, 2, () => "-1"), 2, /bad key age/],
    [line(nks0, 2, () => "99 1.0"), 2, /unsupported AEAD 99/],
    [line(good, 3, (l) => l.replace(/ 30$/, " 99")), 3, /unsupported AEAD 99/],
    [line(good, 3, (l) => l.replace(/ 30$/, " x")), 3, /bad AEAD id/],
    [line(good, 3, (l) => l.replace(/ 30$/, " 15")), 3, /not 32 bytes of hex \(AEAD 15\)/],
    [line(good, 4, (l) => l.replace(/ 15$/, " 30")), 4, /not 16 bytes of hex \(AEAD 30\)/],
    [line(good, 4, (l) => l.replace(/ ([0-9A-F]{2})/, " zz")), 4, /not 32 bytes of hex/],
    [line(good, 4, (l) => l.replace(/ 15$/, "")), 4, /not an "ID KEY AEAD" line/],
    [line(nks0, 4, (l) => l + " 15"), 4, /not an "ID KEY" line/],
    [line(good, 4, (l) => "00000013" + l.slice(8)), 4, /slot after the previous/],
    [line(good, 4, (l) => "1234" + l.slice(8)), 4, /not an "ID KEY AEAD" line/],
    [line(good, 4, () => ""), 4, /empty line before the end/],
    [good.split("\n").slice(0, 5).join("\n") + "\n", 6, /3 keys, not 4/],
  ];
  // As chronyd: lines after the fourth key are not read.
  assert.deepEqual(parseServerKeyFile(good + "junk\n").keys, parseServerKeyFile(good).keys);
  for (const [text, n, reason] of cases) {
    const e = assert.throws(() => parseServerKeyFile(text), (e: unknown) => {
      assert.ok(e instanceof NtsDumpError, String(e));
      assert.equal(e.line, n, `${e.message} in\n${text}`);
      assert.match(e.message, reason);
      return true;
    });
    void e;
  }
});

Deno.test("ntskeys: cookies under an AES-128-GCM-SIV key: id, 12-byte nonce, GCM-SIV(C2S || S2C) then tag", () => {
  const keys = keysOf(0x2000_0001, [15, 30, 30, 15]);
  const ring = ServerKeyRing.fromKeys(keys, 0n, 0);
  assert.equal(ring.cookieLength(false), GCM_KEY_COOKIE_LENGTH);
  assert.equal(ring.cookieLength(true), GCM_KEY_COOKIE_LENGTH_128GCM);
  const c = ring.makeCookie(sivKeys, rnd(16, 60));
  assert.equal(c.length, 96);
  assert.equal(new DataView(c.buffer).getUint32(0), keys[2]!.id);
  assert.deepEqual(c.subarray(4, 16), rnd(16, 60).subarray(0, 12));
  const plain = AES_128_GCM_SIV.open(
    keys[2]!.key,
    c.subarray(4, 16),
    new Uint8Array(0),
    c.subarray(16),
  );
  assert.deepEqual(plain, new Uint8Array([...sivKeys.c2s, ...sivKeys.s2c]));
  assert.deepEqual(ring.openCookie(c), sivKeys);
  const g = ring.makeCookie(gcmKeys, rnd(16, 61));
  assert.equal(g.length, 64);
  assert.deepEqual(ring.openCookie(g), gcmKeys);
  for (let i = 0; i < c.length; i++) {
    const bad = c.slice();
    bad[i]! ^= 1;
    assert.equal(ring.openCookie(bad), null, `byte ${i} altered`);
  }
  // After a rotation to the (AES-SIV) next key: 100-byte cookies, the GCM-SIV ones still open.
  const next = ServerKeyRing.fromKeys([...keys.slice(1), keysOf(0x2000_0005, [15], 9)[0]!], 0n, 0);
  assert.equal(next.cookieLength(false), 100);
  assert.deepEqual(next.openCookie(c), sivKeys);
  const d = next.makeCookie(sivKeys, rnd(16, 62));
  assert.equal(d.length, 100);
  assert.deepEqual(ring.openCookie(d), sivKeys); // the first ring knows that key as its next one
  // A 96-byte cookie naming an AES-SIV key, or a 100-byte one naming a GCM-SIV key: refused.
  const swapped = c.slice();
  swapped.set(d.subarray(0, 4));
  assert.equal(next.openCookie(swapped), null);
  const swapped2 = d.slice();
  swapped2.set(c.subarray(0, 4));
  assert.equal(ring.openCookie(swapped2), null);
  // Rotating after a GCM-SIV last key makes a GCM-SIV key (never from 30 back to 15).
  const all30 = ServerKeyRing.fromKeys(keysOf(0x2000_0001, [30, 30, 30, 30]), 0n, 100);
  all30.rotate(rnd(36, 63), 0n);
  assert.equal(all30.all[3]!.aead, 30);
  assert.equal(all30.all[3]!.key.length, 16);
  assert.equal(all30.all[3]!.id & 3, (all30.all[2]!.id + 1) & 3);
  assert.deepEqual(all30.openCookie(all30.makeCookie(sivKeys, rnd(16, 64))), sivKeys);
  assert.match(
    formatServerKeyFile(all30.all, 0),
    /^NKS1\n0\.0\n([0-9A-F]{8} [0-9A-F]{32} 30\n){4}$/,
  );
  next.rotate(rnd(36, 65), 0n); // after an AES-SIV last key: AES-SIV
  assert.equal(next.all[3]!.aead, undefined);
  assert.equal(next.all[3]!.key.length, 32);
  assert.throws(
    () => ServerKeyRing.fromKeys(keys.map((k) => ({ ...k, aead: 30 })), 0n, 0),
    /AEAD 30 must be 16 bytes/,
  );
});

Deno.test("ntskeys: the NTS responder hands out 96-byte cookies under a GCM-SIV current key", () => {
  const ring = ServerKeyRing.fromKeys(keysOf(0x3000_0002, [30, 30, 30, 30]), 0n, 0);
  let n = 0;
  const auth = new NtsServerAuth({ ring, randomBytes: (k) => rnd(k, ++n), now: () => 0n });
  const header = rnd(48, 70);
  header[0] = 0x23;
  const uid = rnd(32, 71);
  const req = buildNtsRequest(header, {
    uniqueId: uid,
    cookie: ring.makeCookie(sivKeys, rnd(16, 72)),
    placeholders: 2,
    aead: AES_SIV_CMAC_256,
    c2s: sivKeys.c2s,
    nonce: rnd(16, 73),
  });
  const buf = new Uint8Array(2048);
  buf.set(req);
  assert.equal(auth.check(buf.subarray(0, req.length)), "ok");
  buf[0] = 0x24;
  buf.fill(0, 1, 48);
  const len = auth.complete(buf);
  assert.equal(len, req.length);
  const r = verifyNtsReply(buf.slice(0, len), {
    uniqueId: uid,
    aead: AES_SIV_CMAC_256,
    s2c: sivKeys.s2c,
  });
  assert.equal(r.kind, "ok");
  if (r.kind !== "ok") return;
  assert.equal(r.cookies.length, 3);
  for (const c of r.cookies) {
    assert.equal(c.length, 96);
    assert.deepEqual(ring.openCookie(c), sivKeys);
  }
});
