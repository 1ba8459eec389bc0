/**
 * lib/net/address.ts against the C library it stands in for: IPv6 text as
 * glibc's inet_ntop writes it, and parsing as inet_pton reads it.
 */
import assert from "node:assert/strict";
import { formatAddress, parseAddress } from "../../ffi/libc.ts";
import { formatIpv6, parseIp, parseIpv6 } from "../../lib/net/address.ts";

/** Deterministic xorshift32 in [0, 1). */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

Deno.test("address: IPv6 text is inet_ntop's, and parses as inet_pton, on 20000 addresses", () => {
  const random = rng(18);
  // Mostly zero groups, so that runs, ties and the IPv4 forms all occur.
  const groups = [0, 0, 0, 0, 1, 2, 0xffff, 0xfffe, 0x102, 0xabcd];
  const b = new Uint8Array(16);
  for (let k = 0; k < 20000; k++) {
    for (let i = 0; i < 8; i++) {
      const w = groups[Math.floor(random() * groups.length)]!;
      b[2 * i] = w >> 8;
      b[2 * i + 1] = w & 0xff;
    }
    const text = formatAddress(b);
    assert.equal(formatIpv6(b), text);
    assert.deepEqual(parseIpv6(text), parseAddress(text, "ipv6"), text);
  }
});

Deno.test("address: odd texts are refused or read as inet_pton reads them", () => {
  const texts = [
    "::",
    ":::",
    "1:::2",
    "1::2::3",
    ":1::",
    "::1:",
    "1:2:3:4:5:6:7",
    "1:2:3:4:5:6:7::",
    "::1:2:3:4:5:6:7",
    "1::2:3:4:5:6:7:8",
    "1:2:3:4:5:6:7:8:9",
    "00000::1",
    "0000::1",
    "ABCD::EF",
    "1.2.3.4::",
    "::1.2.3.4",
    "::1.2.3.4:5",
    "::ffff:1.2.3.4",
    "1:2:3:4:5:6:1.2.3.4",
    "1:2:3:4:5:6:7:1.2.3.4",
    "::1.2.3",
    "::ffff:1.2.3.256",
    "fe80::1%lo",
    "192.0.2.1",
    "1.2.3",
    "256.1.1.1",
    "1.2.3.4 ",
    "0x1.2.3.4",
    "010.1.1.1",
    "0.0.0.00",
    "::ffff:010.1.1.1",
    "::ffff:0.0.0.0",
    "",
  ];
  for (const t of texts) {
    const family = t.includes(":") ? "ipv6" : "ipv4";
    assert.deepEqual(parseIp(t)?.bytes ?? null, parseAddress(t, family), t);
  }
});

Deno.test("address: dotted quads (alone and in IPv6) read as inet_pton reads them", () => {
  const random = rng(4);
  const octets = ["0", "00", "01", "1", "10", "010", "99", "255", "256", "0255", "", "a"];
  const pick = () => octets[Math.floor(random() * octets.length)]!;
  for (let k = 0; k < 5000; k++) {
    const quad = `${pick()}.${pick()}.${pick()}.${pick()}`;
    assert.deepEqual(parseIp(quad)?.bytes ?? null, parseAddress(quad, "ipv4"), quad);
    const v6 = `::ffff:${quad}`;
    assert.deepEqual(parseIp(v6)?.bytes ?? null, parseAddress(v6, "ipv6"), v6);
  }
});
