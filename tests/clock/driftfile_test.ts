import assert from "node:assert/strict";
import { DriftfileError, formatDriftfile, parseDriftfile } from "../../lib/clock/driftfile.ts";

Deno.test("driftfile: formatted as two 20-wide fields with 6 decimals", () => {
  assert.equal(
    formatDriftfile({ frequency: -12.3456789, skew: 0.0421 }),
    "          -12.345679             0.042100\n",
  );
});

Deno.test("driftfile: format and parse round trip to 1e-6 ppm", () => {
  const text = formatDriftfile({ frequency: 123.4567894, skew: 1.5 });
  assert.deepEqual(parseDriftfile(text), { frequency: 123.456789, skew: 1.5 });
});

Deno.test("driftfile: parses chrony's file with any spacing", () => {
  assert.deepEqual(parseDriftfile("   -7.125 0.5\n"), { frequency: -7.125, skew: 0.5 });
  assert.deepEqual(parseDriftfile("1e1\t2"), { frequency: 10, skew: 2 });
});

Deno.test("driftfile: missing skew, garbage or negative skew is a DriftfileError", () => {
  for (const bad of ["", "12.5\n", "abc 1", "1 -2", "1 2x", "NaN 1"]) {
    assert.throws(() => parseDriftfile(bad), DriftfileError, bad);
  }
});
