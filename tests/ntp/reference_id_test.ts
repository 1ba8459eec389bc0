import assert from "node:assert/strict";
import {
  formatRefId,
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
