import assert from "node:assert/strict";
import {
  decodePacket,
  encodeInto,
  encodePacket,
  MODE_CLIENT,
  MODE_SERVER,
  newPacket,
  ntpToTimestamp,
  PacketError,
  secondsToNtpShort,
  timestampToNtp,
} from "../../lib/ntp/packet.ts";
import { EF_NTS_COOKIE, EF_NTS_UNIQUE_IDENTIFIER } from "../../lib/ntp/extension_field.ts";
import { formatIso, fromSecNsec, NTP64_ZERO, ntp64Bits } from "../../lib/time/timestamp.ts";

function hex(s: string): Uint8Array {
  return new Uint8Array(s.match(/../g)!.map((h) => parseInt(h, 16)));
}
function toHex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

// Captured 2026-11-23 from Debian chrony 4.3:
//   chronyd -Q -t 3 -f /dev/null 'server 127.0.0.1 port P iburst maxsamples 1'
// against a Deno UDP listener on 127.0.0.1:P printing the first datagram.
const CHRONY_REQUEST = "2300062000000000000000000000000000000000000000000000000000000000" +
  "0000000000000000c719a6a2963c1b85";
// Reply of the real chronyd (/work/shared/peer/ref-server.sh: `local stratum 1`)
// to CHRONY_REQUEST, sent from a Deno UDP socket and printed as hex.
const CHRONY_REPLY = "240106e700000000000000007f7f0101eeae9a532d3bd076c719a6a2963c1b85" +
  "eeae9a54ee8dd441eeae9a54ee9550ce";

Deno.test("a chronyd client request decodes as v4 mode 3 with only a (random) transmit timestamp", () => {
  const p = decodePacket(hex(CHRONY_REQUEST));
  assert.equal(p.leap, 0);
  assert.equal(p.version, 4);
  assert.equal(p.mode, MODE_CLIENT);
  assert.equal(p.stratum, 0);
  assert.equal(p.poll, 6);
  assert.equal(p.precision, 32);
  assert.equal(p.rootDelay, 0);
  assert.equal(p.rootDispersion, 0);
  assert.equal(p.referenceId, 0);
  assert.equal(p.referenceTs, 0n);
  assert.equal(p.originTs, 0n);
  assert.equal(p.receiveTs, 0n);
  assert.equal(p.transmitTs, 0xc719a6a2963c1b85n);
  assert.deepEqual(p.extensions, []);
  assert.equal(p.mac, null);
  assert.equal(toHex(encodePacket(p)), CHRONY_REQUEST);
});

Deno.test("a chronyd server reply decodes with stratum, precision, refid and timestamps", () => {
  const p = decodePacket(hex(CHRONY_REPLY));
  assert.equal(p.leap, 0);
  assert.equal(p.version, 4);
  assert.equal(p.mode, MODE_SERVER);
  assert.equal(p.stratum, 1);
  assert.equal(p.poll, 6);
  assert.equal(p.precision, -25);
  assert.equal(p.referenceId, 0x7f7f0101);
  assert.equal(p.originTs, 0xc719a6a2963c1b85n);
  assert.equal(p.receiveTs, 0xeeae9a54ee8dd441n);
  assert.equal(p.transmitTs, 0xeeae9a54ee9550cen);
  const pivot = fromSecNsec(1_795_000_000, 0);
  assert.equal(formatIso(ntpToTimestamp(p.receiveTs, pivot)!), "2026-11-23T10:56:20.931851641Z");
  assert.equal(toHex(encodePacket(p)), CHRONY_REPLY);
});

Deno.test("timestamps convert to raw NTP words and back; zero means unknown", () => {
  const t = fromSecNsec(1_700_000_000, 123_456_789);
  const raw = timestampToNtp(t);
  assert.equal(raw >> 32n, 1_700_000_000n + 2_208_988_800n);
  assert.equal(ntpToTimestamp(raw, t), t);
  assert.equal(ntpToTimestamp(NTP64_ZERO, t), null);
});

Deno.test("root delay and dispersion are NTP short 16.16 seconds", () => {
  const b = hex(CHRONY_REPLY);
  b.set([0x00, 0x01, 0x80, 0x00, 0x00, 0x00, 0x00, 0x10], 4);
  const p = decodePacket(b);
  assert.equal(p.rootDelay, 1.5);
  assert.equal(p.rootDispersion, 16 / 65536);
  assert.equal(toHex(encodePacket(p)), toHex(b));
});

Deno.test("root delay and dispersion round up to the next 2^-16 s, as chronyd sends them", () => {
  assert.equal(secondsToNtpShort(0), 0);
  assert.equal(secondsToNtpShort(-1), 0);
  assert.equal(secondsToNtpShort(1.6e-6), 1); // chronyd sends 1 unit, never 0
  assert.equal(secondsToNtpShort(3.3e-6), 1);
  assert.equal(secondsToNtpShort(1 / 65536), 1);
  assert.equal(secondsToNtpShort(1.5 / 65536), 2);
  assert.equal(secondsToNtpShort(1), 0x10000);
  assert.equal(secondsToNtpShort(70000), 0xffffffff);
});

Deno.test("packets shorter than 48 bytes, version 0 or 5, and modes 6/7 are rejected", () => {
  const codeOf = (b: Uint8Array) => {
    try {
      decodePacket(b);
      return "ok";
    } catch (e) {
      assert.ok(e instanceof PacketError);
      return e.code;
    }
  };
  assert.equal(codeOf(new Uint8Array(47)), "short");
  const b = hex(CHRONY_REQUEST);
  b[0] = 0x03; // version 0
  assert.equal(codeOf(b), "version");
  b[0] = 0x2b; // version 5
  assert.equal(codeOf(b), "version");
  b[0] = 0x26; // v4 mode 6
  assert.equal(codeOf(b), "mode");
  b[0] = 0x1b; // v3 mode 3
  assert.equal(codeOf(b), "ok");
  assert.equal(codeOf(new Uint8Array([...b, 1, 2, 3, 4, 5, 6, 7, 8])), "length");
});

Deno.test("a 20- or 24-byte trailer is a MAC and 4 bytes is a crypto-NAK", () => {
  const base = hex(CHRONY_REQUEST);
  for (const digest of [16, 20]) {
    const b = new Uint8Array(48 + 4 + digest);
    b.set(base);
    b.set([0, 0, 0, 7], 48);
    b.fill(0xaa, 52);
    const p = decodePacket(b);
    assert.deepEqual(p.extensions, []);
    assert.equal(p.mac?.keyId, 7);
    assert.equal(p.mac?.digest.length, digest);
    assert.equal(toHex(encodePacket(p)), toHex(b));
  }
  const nak = decodePacket(new Uint8Array([...base, 0, 0, 0, 0]));
  assert.equal(nak.mac?.keyId, 0);
  assert.equal(nak.mac?.digest.length, 0);
});

Deno.test("a SHA-512 MAC (68 bytes) after the header is a MAC, not an extension field", () => {
  const b = new Uint8Array(48 + 68);
  b.set(hex(CHRONY_REQUEST));
  b.set([0, 0, 0, 2], 48); // key 2: read as an EF its length would be 2 (< 16)
  const p = decodePacket(b);
  assert.equal(p.mac?.keyId, 2);
  assert.equal(p.mac?.digest.length, 64);
});

Deno.test("extension fields are decoded in order, then a MAC", () => {
  const p = {
    ...newPacket(),
    mode: MODE_CLIENT as 3,
    transmitTs: ntp64Bits(5n),
    extensions: [
      { type: EF_NTS_UNIQUE_IDENTIFIER, body: new Uint8Array(32).fill(1) },
      { type: EF_NTS_COOKIE, body: new Uint8Array([1, 2, 3, 4, 5]) },
    ],
    mac: { keyId: 9, digest: new Uint8Array(20).fill(3) },
  };
  const bytes = encodePacket(p);
  assert.equal(bytes.length, 48 + 36 + 16 + 24);
  const q = decodePacket(bytes);
  assert.equal(q.extensions.length, 2);
  assert.equal(q.extensions[0]?.type, EF_NTS_UNIQUE_IDENTIFIER);
  assert.equal(q.extensions[1]?.type, EF_NTS_COOKIE);
  // short body padded to the 16-byte minimum field with zeros
  assert.deepEqual(q.extensions[1]?.body, new Uint8Array([1, 2, 3, 4, 5, 0, 0, 0, 0, 0, 0, 0]));
  assert.equal(q.mac?.keyId, 9);
  assert.equal(toHex(encodePacket(q)), toHex(bytes));
});

Deno.test("encodeInto writes into a larger buffer and returns the length", () => {
  const buf = new Uint8Array(100).fill(0xee);
  const n = encodeInto(new DataView(buf.buffer, 10), decodePacket(hex(CHRONY_REPLY)));
  assert.equal(n, 48);
  assert.equal(toHex(buf.subarray(10, 58)), CHRONY_REPLY);
  assert.equal(buf[58], 0xee);
});

Deno.test("encoding out-of-range fields throws PacketError value", () => {
  assert.throws(() => encodePacket({ ...newPacket(), stratum: 256 }), PacketError);
  assert.throws(() => encodePacket({ ...newPacket(), poll: 1.5 }), PacketError);
  assert.throws(() => encodePacket({ ...newPacket(), transmitTs: ntp64Bits(-1n) }), PacketError);
});
