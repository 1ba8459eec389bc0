/**
 * AES-CMAC (lib/crypto/cmac.ts) against RFC 4493 §4 and NIST SP 800-38B
 * (AES-256) vectors, one-shot and with a kept, re-keyed {@link Cmac}.
 */
import assert from "node:assert/strict";
import { AesBuffer, AesContext } from "../../lib/crypto/aes.ts";
import { aesCmac, Cmac } from "../../lib/crypto/cmac.ts";

const hex = (s: string) => Uint8Array.from(s.match(/../g)!.map((b) => parseInt(b, 16)));
const toHex = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, "0")).join("");

const k128 = hex("2b7e151628aed2a6abf7158809cf4f3c");
const k256 = hex("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4");
const msg = hex(
  "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e5130c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710",
);

Deno.test("cmac: AES-CMAC vectors (RFC 4493 §4, NIST SP 800-38B AES-256)", () => {
  assert.equal(toHex(aesCmac(k128, msg.subarray(0, 0))), "bb1d6929e95937287fa37d129b756746");
  assert.equal(toHex(aesCmac(k128, msg.subarray(0, 16))), "070a16b46b4d4144f79bdd9dd04a287c");
  assert.equal(toHex(aesCmac(k128, msg.subarray(0, 40))), "dfa66747de9ae63030ca32611497c827");
  assert.equal(toHex(aesCmac(k128, msg)), "51f0bebf7e3b9d92fc49741779363cfe");
  assert.equal(toHex(aesCmac(k256, msg.subarray(0, 0))), "028962f61b7bf89efc6b551f4667d983");
  assert.equal(toHex(aesCmac(k256, msg.subarray(0, 16))), "28a7023f452e8f82bd4bf28d8c37c35c");
});

Deno.test("cmac: a kept key over ranges, re-keyed, agrees with the one-shot form", () => {
  const c = Cmac.create(k128);
  assert.equal(c.keyLength, 16);
  const buf = new Uint8Array(7 + msg.length);
  buf.set(msg, 7);
  for (const n of [0, 1, 15, 16, 17, 40, 64]) {
    assert.equal(toHex(c.mac(buf, 7, n)), toHex(aesCmac(k128, msg.subarray(0, n))), `len ${n}`);
  }
  const other = k128.map((b) => b ^ 0x55);
  c.setKey(other);
  assert.equal(toHex(c.mac(msg)), toHex(aesCmac(other, msg)));
  assert.notEqual(toHex(c.mac(msg)), "51f0bebf7e3b9d92fc49741779363cfe");
  c.setKey(k128);
  assert.equal(toHex(c.mac(msg)), "51f0bebf7e3b9d92fc49741779363cfe");
  const c256 = Cmac.create(k256);
  assert.equal(toHex(c256.mac(msg.subarray(0, 16))), "28a7023f452e8f82bd4bf28d8c37c35c");
  assert.throws(() => c256.setKey(k128), RangeError);
  assert.throws(() => Cmac.create(new Uint8Array(24)), RangeError);
  assert.throws(() => aesCmac(new Uint8Array(20), msg), RangeError);
});

Deno.test("AesBuffer: in-place AES takes whole blocks with a block of room, else RangeError", () => {
  const ctx = AesContext.create("AES-128-ECB", new Uint8Array(16));
  const buf = new AesBuffer(48);
  assert.equal(buf.bytes.length, 48);
  ctx.encryptInPlace(buf, 32);
  assert.equal(toHex(buf.bytes.subarray(0, 16)), "66e94bd4ef8a2c3b884cfa59ca342b2e");
  assert.deepEqual(buf.bytes.subarray(0, 16), buf.bytes.subarray(16, 32));
  for (const n of [48, 15, -16, 64]) assert.throws(() => ctx.encryptInPlace(buf, n), RangeError);
});
