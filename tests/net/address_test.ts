import assert from "node:assert/strict";
import {
  addressRefId,
  canonicalIp,
  formatIp,
  formatIpBytes,
  isIpv4Mapped,
  parseIp,
  parseIpv4,
  parseIpv6,
  parseSubnet,
  prefixFits,
  REFID_LOCAL,
  unmapIpv4,
} from "../../lib/net/address.ts";

/** [text, canonical text or null when refused] */
const ADDRESSES: [string, string | null][] = [
  // IPv4
  ["192.0.2.1", "192.0.2.1"],
  ["0.0.0.0", "0.0.0.0"],
  ["255.255.255.255", "255.255.255.255"],
  ["010.1.1.1", null], // no leading zeros (inet_pton; chronyd 4.3 refuses allow 010.1.1.1)
  ["1.2.3.00", null],
  ["0.0.0.00", null],
  ["0001.2.3.4", null],
  ["1.2.3.256", null],
  ["1.2.3", null], // the short form is a subnet, not an address
  ["1.2.3.4.5", null],
  ["1.2.3.", null],
  [".1.2.3", null],
  ["1..2.3", null],
  ["1.2.3.4 ", null],
  [" 1.2.3.4", null],
  ["0x1.2.3.4", null],
  ["+1.2.3.4", null],
  ["-1.2.3.4", null],
  ["", null],
  ["example.org", null],
  // IPv6, canonical as inet_ntop
  ["::", "::"],
  ["::1", "::1"],
  ["1::", "1::"],
  ["2001:DB8:0:0::1", "2001:db8::1"],
  ["2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"],
  ["1:0:0:2:0:0:0:3", "1:0:0:2::3"], // the longest zero run
  ["1:0:0:2:0:0:3:4", "1::2:0:0:3:4"], // the first of equal runs
  ["1:0:2:3:4:5:6:7", "1:0:2:3:4:5:6:7"], // a single zero group stays
  ["1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0"],
  ["::1:2:3:4:5:6:7", "0:1:2:3:4:5:6:7"],
  ["ABCD::EF", "abcd::ef"],
  // IPv4-mapped and -compatible
  ["::ffff:1.2.3.4", "::ffff:1.2.3.4"],
  ["::FFFF:102:304", "::ffff:1.2.3.4"],
  ["::ffff:010.1.1.1", null],
  ["::ffff:0.0.0.0", "::ffff:0.0.0.0"],
  ["::1.2.3.4", "::1.2.3.4"],
  ["::2", "::2"],
  ["::ffff:0:1.2.3.4", "::ffff:0:102:304"],
  ["1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:102:304"],
  ["64:ff9b::192.0.2.33", "64:ff9b::c000:221"],
  // refused
  [":::", null],
  ["1:::2", null],
  ["1::2::3", null],
  [":1::", null],
  ["::1:", null],
  ["1:2:3:4:5:6:7", null],
  ["1:2:3:4:5:6:7:8:9", null],
  ["1::2:3:4:5:6:7:8", null], // `::` must stand for at least one group
  ["00000::1", null],
  ["g::1", null],
  ["1.2.3.4::", null], // a dotted quad only at the end
  ["::1.2.3.4:5", null],
  ["1:2:3:4:5:6:7:1.2.3.4", null],
  ["::1.2.3", null],
  ["::ffff:1.2.3.256", null],
  ["fe80::1%eth0", null], // zone ids only when asked for
  ["[::1]", null],
  ["::1/128", null],
];

Deno.test("address: parse and format, table", () => {
  for (const [text, want] of ADDRESSES) {
    assert.equal(canonicalIp(text), want, text);
    const a = parseIp(text);
    if (want === null) {
      assert.equal(a, null, text);
      continue;
    }
    assert.equal(a!.family, text.includes(":") ? 6 : 4, text);
    assert.equal(a!.bytes.length, a!.family === 4 ? 4 : 16, text);
    assert.equal(formatIp(parseIp(want)!), want, `${text}: canonical text is stable`);
    assert.deepEqual(parseIp(want), a, `${text}: canonical text parses back`);
  }
});

Deno.test("address: bytes in network order, family-specific parsers", () => {
  assert.deepEqual(parseIpv4("192.0.2.1"), new Uint8Array([192, 0, 2, 1]));
  assert.equal(parseIpv4("::1"), null);
  assert.equal(parseIpv6("1.2.3.4"), null);
  assert.deepEqual(
    parseIpv6("2001:db8::102:304"),
    new Uint8Array([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4]),
  );
  assert.throws(() => formatIpBytes(new Uint8Array(5)), RangeError);
});

Deno.test("address: zone ids are dropped only when asked for", () => {
  for (const [text, want] of [["fe80::1%eth0", "fe80::1"], ["fe80::1%2", "fe80::1"]] as const) {
    assert.equal(parseIp(text), null);
    assert.equal(formatIp(parseIp(text, true)!), want);
  }
  assert.equal(parseIp("fe80::1%", true), null);
  assert.equal(parseIp("1.2.3.4%eth0", true), null);
  assert.equal(parseIpv6("zz%eth0", true), null);
});

Deno.test("address: IPv4-mapped addresses", () => {
  const mapped = parseIp("::ffff:192.0.2.1")!;
  assert.equal(isIpv4Mapped(mapped), true);
  assert.deepEqual(unmapIpv4(mapped), { family: 4, bytes: new Uint8Array([192, 0, 2, 1]) });
  for (const other of ["::1.2.3.4", "::fffe:1.2.3.4", "1::ffff:1.2.3.4", "192.0.2.1"]) {
    const a = parseIp(other)!;
    assert.equal(isIpv4Mapped(a), false, other);
    assert.equal(unmapIpv4(a), a, other);
  }
});

/** [text, family, address text, bits] or [text, error] */
const SUBNETS: ([string, 4 | 6, string, number] | [string, "address" | "prefix"])[] = [
  ["1.2.3.4", 4, "1.2.3.4", 32],
  ["1.2.3.0", 4, "1.2.3.0", 32], // four octets are one host
  ["1.2.3", 4, "1.2.3.0", 24], // the short form
  ["1.2", 4, "1.2.0.0", 16],
  ["10", 4, "10.0.0.0", 8],
  ["010.01", 4, "10.1.0.0", 16], // the short form may have leading zeros (chronyd 4.3 too)
  ["010.1.1.1", "address"], // a full address may not
  ["0/0", 4, "0.0.0.0", 0],
  ["10/8", 4, "10.0.0.0", 8],
  ["1.2.3.4/24", 4, "1.2.3.4", 24], // host bits kept as written
  ["1.2.3.4/032", 4, "1.2.3.4", 32],
  ["1.2.3.4/+8", 4, "1.2.3.4", 8],
  ["10.0.0.0/99", 4, "10.0.0.0", 99], // too long: returned, see prefixFits
  ["::/0", 6, "::", 0],
  ["2001:DB8:0:0::/32", 6, "2001:db8::", 32],
  ["2001:db8::1", 6, "2001:db8::1", 128],
  ["::ffff:192.0.2.1", 6, "::ffff:192.0.2.1", 128],
  ["::/200", 6, "::", 200],
  ["1.2.3.256", "address"],
  ["1.2.3.4.5", "address"],
  ["1.2.3.", "address"],
  ["1..3", "address"],
  ["", "address"],
  ["/24", "address"],
  ["host.example", "address"],
  ["2001:db8::1::2", "address"],
  ["fe80::1%eth0/64", "address"],
  ["1.2.3.4/", "prefix"],
  ["1.2.3.4/-1", "prefix"],
  ["1.2.3.4/x", "prefix"],
  ["1.2.3.4/24/8", "prefix"],
  ["1.2.3.4/ 8", "prefix"],
  ["1.2.3.4/99999999999999999999", "prefix"],
  ["::/1e2", "prefix"],
];

Deno.test("address: subnets as chrony's allow/deny read them, table", () => {
  for (const row of SUBNETS) {
    const s = parseSubnet(row[0]);
    if (row.length === 2) {
      assert.equal(s, row[1], row[0]);
      continue;
    }
    const [text, family, address, bits] = row;
    assert.notEqual(typeof s, "string", text);
    if (typeof s === "string") continue;
    assert.deepEqual([s.family, formatIpBytes(s.bytes), s.bits], [family, address, bits], text);
    assert.equal(prefixFits(s), bits <= (family === 4 ? 32 : 128), text);
  }
});

Deno.test("address: reference ids (IPv4 the address, IPv6 MD5; values from Python hashlib)", () => {
  const cases: [string, number][] = [
    ["192.168.0.1", 0xc0a80001],
    ["127.127.1.1", REFID_LOCAL],
    ["0.0.0.0", 0],
    ["255.255.255.255", 0xffffffff],
    ["::1", 0xcf404dc8],
    ["2001:db8::1", 0x39ab9b37],
    ["2001:0DB8:0:0:0:0:0:1", 0x39ab9b37],
  ];
  for (const [text, want] of cases) assert.equal(addressRefId(parseIp(text)!), want, text);
  assert.equal(REFID_LOCAL, 0x7f7f0101);
  // An IPv4-mapped address is IPv6 to the refid (its MD5, not the IPv4 address).
  assert.equal(addressRefId(parseIp("::ffff:192.168.0.1")!), 0xc845ccd2);
});
