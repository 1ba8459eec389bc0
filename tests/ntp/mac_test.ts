import assert from "node:assert/strict";
import {
  constantTimeEqual,
  defaultVersionForKey,
  digestLength,
  findMac,
  signPacket,
  verifyPacket,
} from "../../lib/ntp/mac.ts";
import { parseKeyFile, type SymmetricKey } from "../../lib/ntp/keyfile.ts";
import { loadDigests } from "../../lib/ntp/mac.ts";

await loadDigests();

const hex = (s: string) => Uint8Array.from(s.match(/../g)!.map((b) => parseInt(b, 16)));
const toHex = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, "0")).join("");

// The key file the real chronyd 4.3 used for the captures below.
const KEYS = parseKeyFile(
  [
    "1 MD5 ASCII:horaetestkey1",
    "2 SHA256 HEX:00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
    "3 AES128 HEX:000102030405060708090a0b0c0d0e0f",
    "4 SHA512 HEX:0102030405060708090a0b0c0d0e0f10",
    "5 SHA1 plainasciikey5",
  ].join("\n"),
  { file: "golden" },
).keys;
const lookup = (id: number) => KEYS.get(id);

/**
 * Captured on loopback (tshark): `chronyd -Q 'keyfile K' 'server 127.0.0.1
 * port P iburst key N'` (chronyd 4.3) against a chronyd 4.3 server with the
 * same key file. Request, then reply.
 */
const GOLDEN: Record<number, [string, string]> = {
  1: [ // MD5, NTPv4, 16-byte digest
    "230006200000000000000000000000000000000000000000000000000000000000000000000000002a26594d67bb743800000001023018409f802172ee727dadb9b384db",
    "240106e700000000000000007f7f0101eeaea4bec196cf202a26594d67bb7438eeaea4f501301739eeaea4f50135e3fe00000001307756db80d5b173f6ae4a9055397507",
  ],
  2: [ // SHA256: the client falls back to NTPv3 to send the whole 32-byte digest
    "1b00062000000000000000000000000000000000000000000000000000000000000000000000000014d1d41d2f8d46e400000002e5020fd8697aa06edb04cdf91386186041ffa0a6bca99915eeafbde02ec30fa9",
    "1c0106e700000000000000007f7f0101eeaea4bec196cf2014d1d41d2f8d46e4eeaea4f536c957cdeeaea4f536d4593400000002d9cd7534085bd6ea57c55081da3357558705de9e47c09c29dc7952af35524cc4",
  ],
  3: [ // AES128-CMAC, NTPv4
    "230006200000000000000000000000000000000000000000000000000000000000000000000000003b990149082e698600000003350d1b2f0826aefbe6164fbce2c2dd01",
    "240106e700000000000000007f7f0101eeaea4bec196cf203b990149082e6986eeaea4f56c7dd525eeaea4f56c844e360000000356b2d86cbfa3f1baaf10989cb55d32c9",
  ],
  4: [ // SHA512, NTPv3, 64-byte digest
    "1b000620000000000000000000000000000000000000000000000000000000000000000000000000a87a6e8c90cfa3bc00000004ee155471e251789f156bc68f269fc25d90d3fd30763d171471c15766b7be2da3f2b99e999c5ea3224fc09042421f6e678d014bc0e4603991f59484fa8f48d70b",
    "1c0106e700000000000000007f7f0101eeaea4bec196cf20a87a6e8c90cfa3bceeaea4f5a2db891feeaea4f5a2e1a3a60000000421bbe9d157eb8733b924554ad6abf43f9c365ca396b74404deb33fb028d0848eab880b989073baf4cf57d6138def51b8b4ab4b00dc0a11223cac28a6e9097194",
  ],
  5: [ // SHA1, NTPv4, 20-byte digest
    "23000620000000000000000000000000000000000000000000000000000000000000000000000000ff663f8e53cdd79600000005eb598021db8eb74d68c60c4da044cd194cc22bb9",
    "240106e700000000000000007f7f0101eeaea4bec196cf20ff663f8e53cdd796eeaea4f5d8d241efeeaea4f5d8d85e84000000057f8bd90f06b316d0a434496c7504b46fa5ec92e3",
  ],
};

for (const [id, [req, rep]] of Object.entries(GOLDEN)) {
  const key = KEYS.get(Number(id))!;
  Deno.test(`mac: chronyd 4.3 request and reply with key ${id} (${key.type}) verify`, () => {
    for (const p of [req, rep]) {
      const r = verifyPacket(hex(p), lookup);
      assert.equal(r.kind, "ok");
    }
  });
  Deno.test(`mac: signing chronyd's ${key.type} request header gives its bytes`, () => {
    assert.equal(toHex(signPacket(hex(req).subarray(0, 48), key)), req);
    assert.equal(toHex(signPacket(hex(rep).subarray(0, 48), key)), rep);
  });
}

Deno.test("mac: a changed byte, another key or an unknown key id fail", () => {
  const req = hex(GOLDEN[1]![0]);
  req[47]! ^= 1;
  assert.deepEqual(verifyPacket(req, lookup), { kind: "bad", keyId: 1 });
  const other = hex(GOLDEN[1]![0]);
  other.set([0, 0, 0, 5], 48); // key 5 is SHA1: wrong key, wrong length
  assert.deepEqual(verifyPacket(other, lookup), { kind: "bad", keyId: 5 });
  const unknown = hex(GOLDEN[1]![0]);
  unknown.set([0, 0, 0, 99], 48);
  assert.deepEqual(verifyPacket(unknown, lookup), { kind: "unknown-key", keyId: 99 });
  assert.deepEqual(verifyPacket(hex(GOLDEN[1]![0]).subarray(0, 48), lookup), { kind: "none" });
  const nak = new Uint8Array(52);
  nak[0] = 0x23;
  assert.deepEqual(verifyPacket(nak, lookup), { kind: "nak", keyId: 0 });
});

Deno.test("mac: digest lengths follow the version (v4: at most 20 bytes, chronyd 4.3)", () => {
  assert.equal(digestLength("SHA256", 4), 20);
  assert.equal(digestLength("SHA256", 3), 32);
  assert.equal(digestLength("SHA512", 4), 20);
  assert.equal(digestLength("MD5", 4), 16);
  assert.equal(digestLength("AES256", 3), 16);
  assert.equal(defaultVersionForKey("SHA256"), 3);
  assert.equal(defaultVersionForKey("SHA1"), 4);
  assert.equal(defaultVersionForKey("AES256"), 4);
  // a v4 packet with a 32-byte SHA256 digest has no MAC chronyd would read
  const key = KEYS.get(2)!;
  const h = new Uint8Array(48);
  h[0] = 0x1b; // v3
  const v3 = signPacket(h, key);
  assert.equal(v3.length, 48 + 4 + 32);
  v3[0] = 0x23; // same bytes announced as v4
  assert.equal(findMac(v3), null);
  h[0] = 0x23;
  const v4 = signPacket(h, key);
  assert.equal(v4.length, 72);
  assert.equal(verifyPacket(v4, lookup).kind, "ok");
});

Deno.test("mac: the MAC follows NTPv4 extension fields and covers them", () => {
  const key: SymmetricKey = { id: 7, type: "SHA1", key: new Uint8Array([1, 2, 3]), line: 1 };
  const p = new Uint8Array(48 + 16);
  p[0] = 0x23;
  p.set([0x02, 0x04, 0x00, 0x10], 48); // a 16-byte field
  const signed = signPacket(p, key);
  assert.deepEqual(findMac(signed), { offset: 64, keyId: 7, digestLength: 20 });
  assert.equal(verifyPacket(signed, () => key).kind, "ok");
  signed[60]! ^= 0xff;
  assert.equal(verifyPacket(signed, () => key).kind, "bad");
});

Deno.test("mac: constant-time comparison", () => {
  assert.equal(constantTimeEqual(new Uint8Array([1, 2]), new Uint8Array([1, 2])), true);
  assert.equal(constantTimeEqual(new Uint8Array([1, 2]), new Uint8Array([1, 3])), false);
  assert.equal(constantTimeEqual(new Uint8Array([1, 2]), new Uint8Array([1, 2, 0])), false);
});
