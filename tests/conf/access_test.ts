import assert from "node:assert/strict";
import { checkAccessRules, subnetText } from "../../lib/conf/access.ts";
import type { AccessRule } from "../../lib/conf/config.ts";
import { parseConfig } from "../../lib/conf/parse.ts";

function rules(text: string): Omit<AccessRule, "origin">[] {
  return parseConfig(text).config.ntpAccess.map(({ origin: _o, ...r }) => r);
}

Deno.test("allow with no argument allows every address of both families", () => {
  assert.deepEqual(rules("allow"), [{ allow: true, all: false, subnet: { kind: "any" } }]);
});

Deno.test("allow all is the overriding form; with no subnet it covers everything", () => {
  assert.deepEqual(rules("allow all"), [{ allow: true, all: true, subnet: { kind: "any" } }]);
  assert.deepEqual(rules("deny all 1.2.0.0/16"), [{
    allow: false,
    all: true,
    subnet: { kind: "ip", family: 4, address: "1.2.0.0", prefix: 16 },
  }]);
});

Deno.test("CIDR subnets keep their prefix", () => {
  assert.deepEqual(rules("allow 10.20.0.0/16")[0]?.subnet, {
    kind: "ip",
    family: 4,
    address: "10.20.0.0",
    prefix: 16,
  });
  assert.deepEqual(rules("allow 0/0")[0]?.subnet, {
    kind: "ip",
    family: 4,
    address: "0.0.0.0",
    prefix: 0,
  });
});

Deno.test("dotted shorthand takes the prefix from the number of octets", () => {
  assert.equal(
    (rules("allow 3.4.5")[0]?.subnet as { prefix: number; address: string }).prefix,
    24,
  );
  assert.deepEqual(rules("allow 10")[0]?.subnet, {
    kind: "ip",
    family: 4,
    address: "10.0.0.0",
    prefix: 8,
  });
});

Deno.test("a full address without /bits is one host even with trailing .0 (as chronyd 4.3 does)", () => {
  // Checked against chronyd 4.3 with `chronyc accheck`: allow 192.0.2.0 denies 192.0.2.5.
  assert.deepEqual(rules("allow 192.0.2.0")[0]?.subnet, {
    kind: "ip",
    family: 4,
    address: "192.0.2.0",
    prefix: 32,
  });
});

Deno.test("IPv6 subnets are canonicalised; no prefix means one host", () => {
  assert.deepEqual(rules("allow ::/0")[0]?.subnet, {
    kind: "ip",
    family: 6,
    address: "::",
    prefix: 0,
  });
  assert.deepEqual(rules("deny 2001:DB8:0:0::/32")[0]?.subnet, {
    kind: "ip",
    family: 6,
    address: "2001:db8::",
    prefix: 32,
  });
  assert.equal((rules("allow 2001:db8::1")[0]?.subnet as { prefix: number }).prefix, 128);
});

Deno.test("a host name is kept for resolution at start", () => {
  assert.deepEqual(rules("allow host.example.net")[0]?.subnet, {
    kind: "host",
    name: "host.example.net",
  });
});

Deno.test("an oversized prefix parses (chronyd -p accepts /33) and is refused at start-up as chronyd refuses it", () => {
  const r = parseConfig("allow 1.2.3.4/32\ncmdallow 10/99\nallow ::/200");
  assert.equal((r.config.cmdAccess[0]?.subnet as { prefix: number }).prefix, 99);
  assert.equal(r.warnings.length, 0);
  // chronyd 4.3: "Fatal error : Bad subnet in 10.0.0.0/99"; NTP rules are checked first.
  assert.equal(checkAccessRules(r.config.ntpAccess), "Bad subnet in ::/200");
  assert.equal(checkAccessRules(r.config.cmdAccess), "Bad subnet in 10.0.0.0/99");
  assert.equal(
    checkAccessRules(parseConfig("allow 10/8\ndeny ::/128\nallow").config.ntpAccess),
    null,
  );
});

Deno.test("cmdallow and cmddeny fill the command access list in order", () => {
  const c = parseConfig("cmdallow 192.168.1.0/24\ncmddeny 192.168.1.7\nallow").config;
  assert.deepEqual(c.cmdAccess.map((r) => [r.allow, r.origin.line]), [[true, 1], [false, 2]]);
  assert.equal(c.ntpAccess.length, 1);
});

Deno.test("subnetText gives the text form lib/ntp's AddressFilter takes", () => {
  const c = parseConfig("allow\nallow 3.4.5\ndeny 192.0.2.0\nallow ::/0\nallow h.example").config;
  assert.deepEqual(c.ntpAccess.map(subnetText), [
    null,
    "3.4.5.0/24",
    "192.0.2.0/32",
    "::/0",
    "h.example",
  ]);
});
