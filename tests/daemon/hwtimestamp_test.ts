import assert from "node:assert/strict";
import {
  checkHwTimestamping,
  hasHardwareTimestamping,
  type HwDirective,
  interfaceNames,
} from "../../lib/daemon/hwtimestamp.ts";

const hw = (iface: string, line: number): HwDirective => ({
  name: "hwtimestamp",
  args: [iface],
  file: "c.conf",
  line,
});
const capable = new Set(["ptp0"]);
const has = (n: string) => capable.has(n);

Deno.test("hwtimestamp: a named interface without it is fatal, as chronyd", () => {
  const r = checkHwTimestamping([hw("*", 1), hw("eth0", 2)], has, () => ["eth0", "lo"]);
  assert.equal(r.fatal, "Could not enable HW timestamping on eth0");
  assert.deepEqual(r.unsupported, []);
});

Deno.test("hwtimestamp *: interfaces without it are passed over silently", () => {
  const r = checkHwTimestamping([hw("*", 1)], has, () => ["eth0", "lo"]);
  assert.deepEqual(r, { fatal: null, unsupported: [] });
});

Deno.test("hwtimestamp on an interface that has it is not supported yet (not fatal)", () => {
  const all = checkHwTimestamping([hw("*", 1)], has, () => ["eth0", "ptp0"]);
  assert.deepEqual(all, {
    fatal: null,
    unsupported: [{ file: "c.conf", line: 1, what: "hwtimestamp" }],
  });
  const named = checkHwTimestamping([hw("ptp0", 3)], has, () => []);
  assert.deepEqual(named.unsupported, [{ file: "c.conf", line: 3, what: "hwtimestamp" }]);
  assert.equal(named.fatal, null);
});

Deno.test("the ethtool probe: loopback has no hardware timestamping, a missing interface neither", () => {
  assert.ok(interfaceNames().includes("lo"));
  assert.equal(hasHardwareTimestamping("lo"), false);
  assert.equal(hasHardwareTimestamping("horae-nosuch0"), false);
});
