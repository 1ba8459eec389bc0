import assert from "node:assert/strict";
import {
  type AccessRule,
  AddressFilter,
  AddressFilterError,
  parseSubnet,
} from "../../lib/ntp/addrfilt.ts";

const allow = (subnet: string | null, all = false) => ({ allow: true, all, subnet });
const deny = (subnet: string | null, all = false) => ({ allow: false, all, subnet });

Deno.test("addrfilt: with no rules every address is denied", () => {
  const f = AddressFilter.fromRules([]);
  assert.equal(f.isAllowed("127.0.0.1"), false);
  assert.equal(f.isAllowed("::1"), false);
});

Deno.test("addrfilt: allow without subnet allows IPv4 and IPv6; 0/0 only IPv4; ::/0 only IPv6", () => {
  assert.equal(AddressFilter.fromRules([allow(null)]).isAllowed("203.0.113.9"), true);
  assert.equal(AddressFilter.fromRules([allow(null)]).isAllowed("2001:db8::1"), true);
  const v4 = AddressFilter.fromRules([allow("0/0")]);
  assert.equal(v4.isAllowed("203.0.113.9"), true);
  assert.equal(v4.isAllowed("2001:db8::1"), false);
  const v6 = AddressFilter.fromRules([allow("::/0")]);
  assert.equal(v6.isAllowed("203.0.113.9"), false);
  assert.equal(v6.isAllowed("2001:db8::1"), true);
});

Deno.test("addrfilt: the most specific subnet wins whatever the order (chrony.conf(5) example)", () => {
  const rules = [allow("1.2.3.4"), deny("1.2.3.0/24"), allow("1.2.0.0/16")];
  for (const order of [[0, 1, 2], [2, 1, 0], [1, 2, 0], [2, 0, 1]]) {
    const f = AddressFilter.fromRules(order.map((i) => rules[i]!));
    assert.equal(f.isAllowed("1.2.3.4"), true, `order ${order}`);
    assert.equal(f.isAllowed("1.2.3.5"), false, `order ${order}`);
    assert.equal(f.isAllowed("1.2.4.5"), true, `order ${order}`);
    assert.equal(f.isAllowed("1.3.0.1"), false, `order ${order}`);
  }
});

Deno.test("addrfilt: allow all overrides earlier rules inside its subnet, not later ones", () => {
  const f = AddressFilter.fromRules([
    allow("1.2.3.4"),
    deny("1.2.3.0/24"),
    allow("1.2.0.0/16", true),
  ]);
  assert.equal(f.isAllowed("1.2.3.5"), true);
  assert.equal(f.isAllowed("1.2.3.4"), true);
  const g = AddressFilter.fromRules([allow("1.2.0.0/16", true), deny("1.2.3.0/24")]);
  assert.equal(g.isAllowed("1.2.3.5"), false);
  const h = AddressFilter.fromRules([allow("1.2.3.4"), deny("1.2.0.0/16", true)]);
  assert.equal(h.isAllowed("1.2.3.4"), false);
  const k = AddressFilter.fromRules([allow("10.0.0.0/8"), deny(null, true)]);
  assert.equal(k.isAllowed("10.1.1.1"), false);
});

Deno.test("addrfilt: prefixes ending in the same 4-bit table override in config order", () => {
  // 1.2.3.0/25 and 1.2.3.0/28 write the same table (chrony.conf(5)).
  const a = AddressFilter.fromRules([deny("1.2.3.0/25"), allow("1.2.3.0/28")]);
  assert.equal(a.isAllowed("1.2.3.1"), true);
  const b = AddressFilter.fromRules([allow("1.2.3.0/28"), deny("1.2.3.0/25")]);
  assert.equal(b.isAllowed("1.2.3.1"), false);
  // /29 is one table deeper than /25: it wins in either order.
  const c = AddressFilter.fromRules([allow("1.2.3.0/29"), deny("1.2.3.0/25")]);
  assert.equal(c.isAllowed("1.2.3.1"), true);
  assert.equal(c.isAllowed("1.2.3.9"), false);
});

Deno.test("addrfilt: short forms take the prefix from the octet count; a full address is a host", () => {
  assert.deepEqual(parseSubnet("3.4.5"), { bytes: new Uint8Array([3, 4, 5, 0]), bits: 24 });
  assert.deepEqual(parseSubnet("10"), { bytes: new Uint8Array([10, 0, 0, 0]), bits: 8 });
  assert.equal(parseSubnet("192.0.2.0").bits, 32);
  // chronyd 4.3 accheck: "allow 10.0.0.0" allows 10.0.0.0 and denies 10.0.0.5.
  const f = AddressFilter.fromRules([allow("10.0.0.0"), allow("1.2.3"), deny("1.2.3.0")]);
  assert.equal(f.isAllowed("10.0.0.0"), true);
  assert.equal(f.isAllowed("10.0.0.5"), false);
  assert.equal(f.isAllowed("1.2.3.5"), true);
  assert.equal(f.isAllowed("1.2.3.0"), false);
});

Deno.test("addrfilt: IPv6 subnets, compressed forms and embedded IPv4", () => {
  const f = AddressFilter.fromRules([allow("2001:db8::/32"), deny("2001:db8:0:1::/64")]);
  assert.equal(f.isAllowed("2001:db8:5::1"), true);
  assert.equal(f.isAllowed("2001:db8:0:1::77"), false);
  assert.equal(f.isAllowed("2001:db9::1"), false);
  assert.deepEqual(
    parseSubnet("::ffff:192.0.2.1").bytes,
    new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255, 255, 192, 0, 2, 1]),
  );
  assert.equal(AddressFilter.fromRules([allow("::1")]).isAllowed("0:0:0:0:0:0:0:1"), true);
});

Deno.test("addrfilt: raw address bytes give the same answer as text", () => {
  const f = AddressFilter.fromRules([allow("127.0.0.0/8"), deny("127.0.0.2")]);
  const buf = new Uint8Array([9, 9, 127, 0, 0, 1, 127, 0, 0, 2]);
  assert.equal(f.isAllowedBytes(buf, 2, 4), true);
  assert.equal(f.isAllowedBytes(buf, 6, 4), false);
});

Deno.test("addrfilt: bad subnets are typed errors", () => {
  assert.throws(() => parseSubnet("1.2.3.256"), AddressFilterError);
  assert.throws(() => parseSubnet("1.2.3.4/33"), AddressFilterError);
  assert.throws(() => parseSubnet("2001:db8::1::2"), AddressFilterError);
  assert.throws(() => AddressFilter.fromRules([allow("example")]), AddressFilterError);
});

Deno.test("addrfilt: isAnyAllowed per family, as chronyd 4.3 opens server sockets", () => {
  // Each row was run on chronyd 4.3 (`ss -ulnp`): which families got a server socket.
  const rows: [AccessRule[], boolean, boolean][] = [
    [[allow("127.0.0.1")], true, false],
    [[allow(null)], true, true],
    [[allow("0/0")], true, false],
    [[allow("::1")], false, true],
    [[allow(null), deny("::/0")], true, false],
    [[deny("127.0.0.1")], false, false],
    [[allow("127.0.0.1"), deny("0/0", true)], false, false],
    [[allow("::/0"), deny("::/0", true)], false, false],
    [[allow(null), deny(null, true)], false, false],
  ];
  for (const [rules, v4, v6] of rows) {
    const f = AddressFilter.fromRules(rules);
    assert.deepEqual([f.isAnyAllowed(4), f.isAnyAllowed(6)], [v4, v6], JSON.stringify(rules));
  }
});

Deno.test("addrfilt: onChange is called after each added rule", () => {
  const f = AddressFilter.fromRules([allow("127.0.0.1")]);
  const seen: boolean[] = [];
  f.onChange = () => seen.push(f.isAnyAllowed(6));
  f.add(allow("::1"));
  f.add(deny("::/0", true));
  assert.deepEqual(seen, [true, false]);
});
