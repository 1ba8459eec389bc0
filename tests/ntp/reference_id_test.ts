import assert from "node:assert/strict";
import {
  formatRefId,
  md5,
  parseIpv6,
  ReferenceIdError,
  refIdFromAddress,
  refIdFromText,
  refIdToIpv4,
  refIdToText,
} from "../../lib/ntp/reference_id.ts";

Deno.test("IPv4 refid is the address", () => {
  assert.equal(refIdFromAddress("192.168.0.1"), 0xc0a80001);
  assert.equal(formatRefId(refIdFromAddress("127.127.1.1")), "7F7F0101");
  assert.equal(refIdToIpv4(0xc0a80001), "192.168.0.1");
});

Deno.test("IPv6 refid is the first 4 bytes of MD5 of the address (values from Python hashlib)", () => {
  assert.equal(refIdFromAddress("::1"), 0xcf404dc8);
  assert.equal(refIdFromAddress("2001:db8::1"), 0x39ab9b37);
  assert.equal(refIdFromAddress("2001:0db8:0:0:0:0:0:1"), 0x39ab9b37);
});

Deno.test("IPv6 parsing handles :: and dotted quads, rejects junk", () => {
  assert.deepEqual(
    parseIpv6("::ffff:1.2.3.4")?.subarray(10),
    new Uint8Array([255, 255, 1, 2, 3, 4]),
  );
  assert.equal(parseIpv6("1::2::3"), null);
  assert.equal(parseIpv6("1:2:3:4:5:6:7"), null);
  assert.equal(parseIpv6("g::1"), null);
  assert.throws(() => refIdFromAddress("example.net"), ReferenceIdError);
});

Deno.test("text refids are left-aligned ASCII and format back", () => {
  assert.equal(refIdFromText("PPS"), 0x50505300);
  assert.equal(refIdFromText("RATE"), 0x52415445);
  assert.equal(refIdToText(0x52415445), "RATE");
  assert.equal(refIdToText(0x50505300), "PPS");
  assert.equal(formatRefId(0x50505300), "50505300");
});

Deno.test("md5 matches the test suite of RFC 1321 §A.5", () => {
  const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  const cases: [string, string][] = [
    ["", "d41d8cd98f00b204e9800998ecf8427e"],
    ["a", "0cc175b9c0f1b6a831c399e269772661"],
    ["abc", "900150983cd24fb0d6963f7d28e17f72"],
    ["message digest", "f96b697d7cb7938d525a2f31aaf161d0"],
    ["abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"],
    [
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
      "d174ab98d277d9f5a5611c2c9f419d9f",
    ],
    [
      "12345678901234567890123456789012345678901234567890123456789012345678901234567890",
      "57edf4a22be3c955ac49da2e2107b67a",
    ],
  ];
  for (const [text, digest] of cases) {
    assert.equal(hex(md5(new TextEncoder().encode(text))), digest, JSON.stringify(text));
  }
});
