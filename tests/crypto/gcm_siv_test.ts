/**
 * AES-128-GCM-SIV (lib/crypto/gcm_siv.ts) against the test vectors of RFC 8452
 * Appendix A (POLYVAL) and C.1 (AEAD_AES_128_GCM_SIV), with AES blocks from
 * OpenSSL (lib/crypto/aes.ts `aes128Block`); tampering is refused.
 */
import assert from "node:assert/strict";
import { aes128Block } from "../../lib/crypto/aes.ts";
import { deriveKeys, gcmSivOpen, gcmSivSeal, polyval } from "../../lib/crypto/gcm_siv.ts";

const hex = (s: string) => {
  const t = s.replace(/\s+/g, "");
  return Uint8Array.from(t.match(/../g) ?? [], (b) => parseInt(b, 16));
};
const toHex = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, "0")).join("");

Deno.test("POLYVAL: RFC 8452 Appendix A and C.1 intermediate values", () => {
  assert.equal(
    toHex(polyval(
      hex("25629347589242761d31f826ba4b757b"),
      hex("4f4f95668c83dfb6401762bb2d01a262 d1a24ddd2721d006bbe45f20d3c9f362"),
    )),
    "f7a3b47b846119fae5b7866cf5e5b77e",
  );
  const h = hex("d9b360279694941ac5dbc6987ada7377");
  assert.equal(toHex(polyval(h, hex("00000000000000000000000000000000"))), "0".repeat(32));
  assert.equal(
    toHex(polyval(h, hex("01000000000000000000000000000000 00000000000000004000000000000000"))),
    "eb93b7740962c5e49d2a90a7dc5cec74",
  );
  assert.equal(
    toHex(polyval(
      h,
      hex(
        "01000000000000000000000000000000 02000000000000000000000000000000 " +
          "03000000000000000000000000000000 00000000000000008001000000000000",
      ),
    )),
    "81388746bc22d26b2abc3dcb15754222",
  );
});

/** RFC 8452 C.1: plaintext, AAD, key, nonce, record auth key, record enc key, result. */
const C1: [string, string, string, string, string, string, string][] = [
  [
    "",
    "",
    "01000000000000000000000000000000",
    "030000000000000000000000",
    "d9b360279694941ac5dbc6987ada7377",
    "4004a0dcd862f2a57360219d2d44ef6c",
    "dc20e2d83f25705bb49e439eca56de25",
  ],
  [
    "0100000000000000",
    "",
    "01000000000000000000000000000000",
    "030000000000000000000000",
    "d9b360279694941ac5dbc6987ada7377",
    "4004a0dcd862f2a57360219d2d44ef6c",
    "b5d839330ac7b786578782fff6013b81 5b287c22493a364c",
  ],
  [
    "010000000000000000000000",
    "",
    "01000000000000000000000000000000",
    "030000000000000000000000",
    "d9b360279694941ac5dbc6987ada7377",
    "4004a0dcd862f2a57360219d2d44ef6c",
    "7323ea61d05932260047d942a4978db3 57391a0bc4fdec8b0d106639",
  ],
  [
    "01000000000000000000000000000000",
    "",
    "01000000000000000000000000000000",
    "030000000000000000000000",
    "d9b360279694941ac5dbc6987ada7377",
    "4004a0dcd862f2a57360219d2d44ef6c",
    "743f7c8077ab25f8624e2e948579cf77 303aaf90f6fe21199c6068577437a0c4",
  ],
  [
    "01000000000000000000000000000000 02000000000000000000000000000000 " +
    "03000000000000000000000000000000 04000000000000000000000000000000",
    "",
    "01000000000000000000000000000000",
    "030000000000000000000000",
    "d9b360279694941ac5dbc6987ada7377",
    "4004a0dcd862f2a57360219d2d44ef6c",
    "2433668f1058190f6d43e360f4f35cd8 e475127cfca7028ea8ab5c20f7ab2af0 " +
    "2516a2bdcbc08d521be37ff28c152bba 36697f25b4cd169c6590d1dd39566d3f " +
    "8a263dd317aa88d56bdf3936dba75bb8",
  ],
  [
    "0200000000000000",
    "01",
    "01000000000000000000000000000000",
    "030000000000000000000000",
    "d9b360279694941ac5dbc6987ada7377",
    "4004a0dcd862f2a57360219d2d44ef6c",
    "1e6daba35669f4273b0a1a2560969cdf 790d99759abd1508",
  ],
  [
    "02000000000000000000000000000000 03000000000000000000000000000000 " +
    "04000000000000000000000000000000",
    "01",
    "01000000000000000000000000000000",
    "030000000000000000000000",
    "d9b360279694941ac5dbc6987ada7377",
    "4004a0dcd862f2a57360219d2d44ef6c",
    "50c8303ea93925d64090d07bd109dfd9 515a5a33431019c17d93465999a8b005 " +
    "3201d723120a8562b838cdff25bf9d1e 6a8cc3865f76897c2e4b245cf31c51f2",
  ],
  [
    "02000000",
    "010000000000000000000000",
    "01000000000000000000000000000000",
    "030000000000000000000000",
    "d9b360279694941ac5dbc6987ada7377",
    "4004a0dcd862f2a57360219d2d44ef6c",
    "a8fe3e8707eb1f84fb28f8cb73de8e99 e2f48a14",
  ],
  [
    "03000000000000000000000000000000 04000000",
    "01000000000000000000000000000000 0200",
    "01000000000000000000000000000000",
    "030000000000000000000000",
    "d9b360279694941ac5dbc6987ada7377",
    "4004a0dcd862f2a57360219d2d44ef6c",
    "6bb0fecf5ded9b77f902c7d5da236a43 91dd029724afc9805e976f451e6d87f6 fe106514",
  ],
  [
    "",
    "",
    "e66021d5eb8e4f4066d4adb9c33560e4",
    "f46e44bb3da0015c94f70887",
    "036ee1fe2d7926af68898095e54e7b3c",
    "5e46482396008223b5c1d25173d87539",
    "a4194b79071b01a87d65f706e3949578",
  ],
  [
    "7a806c",
    "46bb91c3c5",
    "36864200e0eaf5284d884a0e77d31646",
    "bae8e37fc83441b16034566b",
    "3e28de1120b2981a0155795ca2812af6",
    "6d4b78b31a4c9c03d8db0f42f7507fae",
    "af60eb711bd85bc1e4d3e0a462e074ee a428a8",
  ],
  [
    "9f572c614b4745914474e7c7",
    "c9882e5386fd9f92ec489c8fde2be2cf 97e74e93",
    "b3fed1473c528b8426a582995929a149",
    "9e9ad8780c8d63d0ab4149c0",
    "22f50707a95dd416df069d670cb775e8",
    "f674a5584ee21fe97b4cebc468ab61e4",
    "f54673c5ddf710c745641c8bc1dc2f87 1fb7561da1286e655e24b7b0",
  ],
  [
    "e42a3c02c25b64869e146d7b233987bd dfc240871d",
    "7576f7028ec6eb5ea7e298342a94d4b2 02b370ef9768ec6561c4fe6b7e7296fa 859c21",
    "f901cfe8a69615a93fdf7a98cad48179",
    "6245709fb18853f68d833640",
    "3724f55f1d22ac0ab830da0b6a995d74",
    "75ac87b70c05db287de779006105a344",
    "391cc328d484a4f46406181bcd62efd9 b3ee197d052d15506c84a9edd65e13e9 d24a2a6e70",
  ],
];

Deno.test("AEAD_AES_128_GCM_SIV: RFC 8452 C.1 test vectors (keys, seal, open)", () => {
  for (const [pt, ad, key, nonce, authKey, encKey, result] of C1) {
    const k = deriveKeys(aes128Block, hex(key), hex(nonce));
    assert.equal(toHex(k.authKey), authKey);
    assert.equal(toHex(k.encKey), encKey);
    const sealed = gcmSivSeal(aes128Block, hex(key), hex(nonce), hex(ad), hex(pt));
    assert.equal(toHex(sealed), result.replace(/\s+/g, ""), `pt ${pt} ad ${ad}`);
    const opened = gcmSivOpen(aes128Block, hex(key), hex(nonce), hex(ad), sealed);
    assert.equal(opened && toHex(opened), pt.replace(/\s+/g, ""));
  }
});

Deno.test("AEAD_AES_128_GCM_SIV: any altered byte of message, AD, nonce or key is refused", () => {
  const [pt, ad, key, nonce, , , result] = C1[12]!;
  const sealed = hex(result);
  for (let i = 0; i < sealed.length; i++) {
    const bad = sealed.slice();
    bad[i]! ^= 1;
    assert.equal(gcmSivOpen(aes128Block, hex(key), hex(nonce), hex(ad), bad), null, `byte ${i}`);
  }
  const badAd = hex(ad);
  badAd[0]! ^= 0x80;
  assert.equal(gcmSivOpen(aes128Block, hex(key), hex(nonce), badAd, sealed), null);
  const badNonce = hex(nonce);
  badNonce[11]! ^= 1;
  assert.equal(gcmSivOpen(aes128Block, hex(key), badNonce, hex(ad), sealed), null);
  const badKey = hex(key);
  badKey[15]! ^= 1;
  assert.equal(gcmSivOpen(aes128Block, badKey, hex(nonce), hex(ad), sealed), null);
  assert.equal(
    gcmSivOpen(aes128Block, hex(key), hex(nonce), hex(ad), sealed.subarray(0, 15)),
    null,
  );
  assert.equal(
    toHex(gcmSivOpen(aes128Block, hex(key), hex(nonce), hex(ad), sealed)!),
    pt.replace(/\s/g, ""),
  );
  // a 4-block message crosses the counter increments; seal/open round trip of 100 bytes
  const long = Uint8Array.from({ length: 100 }, (_, i) => i);
  const s = gcmSivSeal(aes128Block, hex(key), hex(nonce), long.subarray(0, 7), long);
  assert.deepEqual(gcmSivOpen(aes128Block, hex(key), hex(nonce), long.subarray(0, 7), s), long);
});
