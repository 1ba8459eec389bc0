import assert from "node:assert/strict";
import { AEAD_AES_SIV_CMAC_256, aeadById, AES_SIV_CMAC_256 } from "../../lib/nts/siv.ts";
import { AesSivKey, SivNonces } from "../../lib/crypto/siv.ts";
import { opensslAesSivSeal } from "./openssl_siv.ts";

function unhex(s: string): Uint8Array {
  const c = s.replace(/\s+/g, "");
  return Uint8Array.from(c.match(/../g) ?? [], (h) => parseInt(h, 16));
}

Deno.test("siv: RFC 5297 A.1 deterministic authenticated encryption", () => {
  const key = unhex("fffefdfc fbfaf9f8 f7f6f5f4 f3f2f1f0 f0f1f2f3 f4f5f6f7 f8f9fafb fcfdfeff");
  const ad = unhex("10111213 14151617 18191a1b 1c1d1e1f 20212223 24252627");
  const pt = unhex("11223344 55667788 99aabbcc ddee");
  const expected = unhex("85632d07 c6e8f37f 950acd32 0a2ecc93 40c02b96 90c4dc04 daef7f6a fe5c");
  const sealed = AES_SIV_CMAC_256.seal(key, new Uint8Array(0), ad, pt);
  assert.deepEqual(sealed, expected);
  assert.deepEqual(AES_SIV_CMAC_256.open(key, new Uint8Array(0), ad, sealed), pt);
});

Deno.test("siv: RFC 5297 A.2 nonce-based authenticated encryption", () => {
  const key = unhex("7f7e7d7c 7b7a7978 77767574 73727170 40414243 44454647 48494a4b 4c4d4e4f");
  const ad = [
    unhex(
      "00112233 44556677 8899aabb ccddeeff deaddada deaddada ffeeddcc bbaa9988 77665544 33221100",
    ),
    unhex("10203040 50607080 90a0"),
  ];
  const nonce = unhex("09f91102 9d74e35b d84156c5 635688c0");
  const pt = unhex(
    "74686973 20697320 736f6d65 20706c61 696e7465 78742074 6f20656e 63727970 74207573 696e6720 5349562d 414553",
  );
  const expected = unhex(
    "7bdb6e3b 432667eb 06f4d14b ff2fbd0f cb900f2f ddbe4043 26601965 c889bf17 dba77ceb 094fa663 b7a3f748 ba8af829 ea64ad54 4a272e9c 485b62a3 fd5c0d",
  );
  assert.deepEqual(AES_SIV_CMAC_256.seal(key, nonce, ad, pt), expected);
  assert.deepEqual(AES_SIV_CMAC_256.open(key, nonce, ad, expected), pt);
});

Deno.test("siv: any altered byte of tag, ciphertext, nonce or AD is rejected", () => {
  const key = new Uint8Array(32).map((_, i) => i * 7);
  const nonce = new Uint8Array(16).fill(3);
  const ad = new Uint8Array(52).fill(9);
  const pt = new Uint8Array(40).fill(1);
  const sealed = AES_SIV_CMAC_256.seal(key, nonce, ad, pt);
  for (let i = 0; i < sealed.length; i++) {
    const bad = sealed.slice();
    bad[i]! ^= 0x80;
    assert.deepEqual(AES_SIV_CMAC_256.open(key, nonce, ad, bad), null, `byte ${i}`);
  }
  const badNonce = nonce.slice();
  badNonce[0]! ^= 1;
  assert.deepEqual(AES_SIV_CMAC_256.open(key, badNonce, ad, sealed), null);
  const badAd = ad.slice();
  badAd[51]! ^= 1;
  assert.deepEqual(AES_SIV_CMAC_256.open(key, nonce, badAd, sealed), null);
  assert.deepEqual(AES_SIV_CMAC_256.open(key, nonce, ad, sealed.subarray(0, 10)), null);
  assert.deepEqual(AES_SIV_CMAC_256.open(key, nonce, ad, sealed), pt);
});

Deno.test("siv: empty plaintext still authenticates the AD and nonce (NTS client requests)", () => {
  const key = new Uint8Array(32).fill(5);
  const nonce = new Uint8Array(16).fill(1);
  const a = AES_SIV_CMAC_256.seal(key, nonce, new Uint8Array(48).fill(1), new Uint8Array(0));
  const b = AES_SIV_CMAC_256.seal(key, nonce, new Uint8Array(48).fill(2), new Uint8Array(0));
  assert.deepEqual(a.length, 16);
  assert.notDeepEqual(a, b);
  assert.deepEqual(AES_SIV_CMAC_256.open(key, nonce, new Uint8Array(48).fill(1), a)?.length, 0);
  assert.deepEqual(AES_SIV_CMAC_256.open(key, nonce, new Uint8Array(48).fill(2), a), null);
});

Deno.test("siv: wrong key length is a RangeError; AEAD 15 is known, others are not", () => {
  assert.ok(aeadById(AEAD_AES_SIV_CMAC_256) === AES_SIV_CMAC_256);
  assert.deepEqual(aeadById(16), undefined);
  let thrown: unknown;
  try {
    AES_SIV_CMAC_256.seal(
      new Uint8Array(16),
      new Uint8Array(16),
      new Uint8Array(1),
      new Uint8Array(1),
    );
  } catch (e) {
    thrown = e;
  }
  assert.ok(thrown instanceof RangeError);
});

Deno.test("siv: equals OpenSSL's own AES-128-SIV for many lengths, AD shapes and keys", () => {
  const k = AesSivKey.create(new Uint8Array(32));
  for (let len = 1; len <= 70; len++) {
    const key = new Uint8Array(32).map((_, i) => i * 13 + len);
    k.setKey(key);
    const pt = new Uint8Array(len).map((_, i) => i + 1);
    const ad = len % 3 === 0
      ? [new Uint8Array(len + 3).fill(7), new Uint8Array(1 + (len % 5))]
      : [new Uint8Array(len * 3).fill(len)];
    const nonce = new Uint8Array(len % 2 === 0 ? 16 : 0).fill(len);
    const expected = opensslAesSivSeal(key, nonce, ad, pt);
    assert.deepEqual(k.seal(nonce, ad, pt), expected, `len ${len}`);
    assert.deepEqual(AES_SIV_CMAC_256.seal(key, nonce, ad, pt), expected, `one-shot len ${len}`);
    assert.deepEqual(k.s2v(ad, nonce, pt), expected.subarray(0, 16), `s2v len ${len}`);
  }
});

Deno.test("siv: sealTo/openTo work in place on ranges and agree with seal/open", () => {
  const key = new Uint8Array(32).map((_, i) => 255 - i);
  const k = AesSivKey.create(key);
  for (const len of [0, 1, 16, 33, 108]) {
    // [pad 3][ad 50][nonce 16][tag 16][pt len]
    const buf = new Uint8Array(3 + 50 + 16 + 16 + len + 5).map((_, i) => (i * 31) & 0xff);
    const ad = buf.slice(3, 53), nonce = buf.slice(53, 69), pt = buf.slice(85, 85 + len);
    const expected = k.seal(nonce, ad, pt);
    k.sealTo(buf, 3, 50, buf, 53, 16, buf, 85, len, buf, 69);
    assert.deepEqual(buf.subarray(69, 85 + len), expected, `seal len ${len}`);
    const out = new Uint8Array(len + 2);
    assert.ok(k.openTo(buf, 3, 50, buf, 53, 16, buf, 69, 16 + len, out, 2));
    assert.deepEqual(out.subarray(2), pt);
    assert.ok(k.openTo(buf, 3, 50, buf, 53, 16, buf, 69, 16 + len, buf, 85), "in place");
    assert.deepEqual(buf.subarray(85, 85 + len), pt);
    k.sealTo(buf, 3, 50, buf, 53, 16, buf, 85, len, buf, 69);
    for (const at of [3, 52, 53, 68, 69, 84 + len]) {
      buf[at]! ^= 4;
      assert.ok(!k.openTo(buf, 3, 50, buf, 53, 16, buf, 69, 16 + len, out, 2), `byte ${at}`);
      buf[at]! ^= 4;
    }
    assert.ok(!k.openTo(buf, 3, 50, buf, 53, 16, buf, 69, 15, out, 2), "short");
  }
});

Deno.test("siv: an empty AD component after setKey uses the new key (per-key CMAC of <empty>)", () => {
  const k1 = new Uint8Array(32).map((_, i) => i + 1);
  const k2 = new Uint8Array(32).map((_, i) => 200 - i);
  const nonce = new Uint8Array(16).fill(7);
  const pt = new Uint8Array(64).map((_, i) => i * 3);
  const seal = (k: ReturnType<typeof AesSivKey.create>) => {
    const out = new Uint8Array(80);
    k.sealTo(new Uint8Array(0), 0, 0, nonce, 0, 16, pt, 0, 64, out, 0);
    return out;
  };
  const reused = AesSivKey.create(k1);
  const first = seal(reused);
  reused.setKey(k2);
  const second = seal(reused);
  assert.deepEqual(second, seal(AesSivKey.create(k2)));
  assert.notDeepEqual(first, second);
  assert.deepEqual(
    AES_SIV_CMAC_256.seal(k2, nonce, [new Uint8Array(0)], pt),
    second,
  );
});

Deno.test("siv: sealToFreshNonce seals as sealTo with the nonce it writes, made from the random bytes", () => {
  const k = AesSivKey.create(new Uint8Array(32).map((_, i) => i * 5 + 1));
  for (const [adLen, len] of [[84, 104], [1, 0], [48, 15], [0, 64], [200, 16]] as const) {
    // [ad][nonce 16][tag 16][pt]
    const buf = new Uint8Array(adLen + 32 + len + 3).map((_, i) => (i * 37 + adLen) & 0xff);
    const nonceAt = adLen, ptAt = adLen + 32;
    const random = buf.slice(nonceAt, nonceAt + 16), pt = buf.slice(ptAt, ptAt + len);
    k.sealToFreshNonce(buf, 0, adLen, buf, nonceAt, buf, ptAt, len, buf, ptAt - 16);
    const nonce = buf.slice(nonceAt, nonceAt + 16);
    if (adLen > 0) assert.notDeepEqual(nonce, random, `nonce rewritten, ad ${adLen}`);
    else assert.deepEqual(nonce, random, "no AD: the random bytes are the nonce");
    const ad = buf.slice(0, adLen);
    assert.deepEqual(buf.subarray(ptAt - 16, ptAt + len), k.seal(nonce, [ad], pt), `ad ${adLen}`);
    assert.deepEqual(
      buf.subarray(ptAt - 16, ptAt + len),
      opensslOrOwn(nonce, ad, pt),
      `the reference agrees, ad ${adLen} pt ${len}`,
    );
    const out = new Uint8Array(len);
    assert.ok(k.openTo(buf, 0, adLen, buf, nonceAt, 16, buf, ptAt - 16, 16 + len, out, 0));
    assert.deepEqual(out, pt);
  }
  // the same random bytes under another AD give another nonce
  const a = new Uint8Array(48 + 32).fill(1), b = a.slice();
  b[0] = 2;
  k.sealToFreshNonce(a, 0, 48, a, 48, a, 80, 0, a, 64);
  k.sealToFreshNonce(b, 0, 48, b, 48, b, 80, 0, b, 64);
  assert.notDeepEqual(a.subarray(48, 64), b.subarray(48, 64));

  function opensslOrOwn(nonce: Uint8Array, ad: Uint8Array, pt: Uint8Array): Uint8Array {
    const key = new Uint8Array(32).map((_, i) => i * 5 + 1);
    const own = pt.length === 0 || ad.length === 0; // cases OpenSSL 3.0 does not take
    return own ? k.seal(nonce, [ad], pt) : opensslAesSivSeal(key, nonce, [ad], pt);
  }
});

Deno.test("siv: sealToPooledNonce seals as sealTo with the pool's nonce, for two keys and after setKey", () => {
  const a = AesSivKey.create(new Uint8Array(32).map((_, i) => i));
  const b = AesSivKey.create(new Uint8Array(32).map((_, i) => 100 + i));
  let n = 0;
  const pool = new SivNonces((buf) => {
    for (let i = 0; i < buf.length; i++) buf[i] = (i * 7 + n * 13) & 0xff;
    n++;
  }, 3);
  const pt = new Uint8Array(64).map((_, i) => i * 3), ad = new Uint8Array(20).fill(9);
  for (let i = 0; i < 8; i++) {
    const k = i % 3 === 2 ? b : a;
    if (i === 5) a.setKey(new Uint8Array(32).fill(77));
    const out = new Uint8Array(80), nonce = new Uint8Array(16);
    const adLen = i % 2 === 0 ? 0 : ad.length;
    k.sealToPooledNonce(ad, 0, adLen, pool, nonce, 0, pt, 0, 64, out, 0);
    const expected = new Uint8Array(80);
    k.sealTo(ad, 0, adLen, nonce, 0, 16, pt, 0, 64, expected, 0);
    assert.deepEqual(out, expected, `seal ${i}`);
  }
});
