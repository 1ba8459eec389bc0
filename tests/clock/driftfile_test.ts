import assert from "node:assert/strict";
import {
  cFixed,
  driftExceededMessage,
  DriftfileError,
  driftReadMessage,
  formatDriftfile,
  limitDrift,
  parseDriftfile,
} from "../../lib/clock/driftfile.ts";

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

// Each case below was run through the real chronyd 4.3 (fscanf "%lf%lf" on
// the file); the expected values are what it read and what it wrote back.
Deno.test("driftfile: rejected as chronyd 4.3 rejects it", () => {
  for (
    const bad of [
      "",
      "12.5\n",
      "garbage",
      "abc 1",
      "1,5 2",
      "12.5x 3",
      "nanx 1",
      "nan(abc) 1",
      "0x 2",
      "5 0xg",
      ". 2",
      "+ 1 2",
      "1 +",
      "in 1",
      "infin 1",
      "5 infinit",
      "1e5e 2",
      "\0" + "1 2",
      "1\0 2",
      "\u00ef\u00bb\u00bf1 2", // a UTF-8 byte-order mark, read as bytes
    ]
  ) {
    assert.throws(() => parseDriftfile(bad), DriftfileError, JSON.stringify(bad));
  }
});

Deno.test("driftfile: accepted as chronyd 4.3 accepts it (C scanf numbers)", () => {
  const cases: [string, number, number][] = [
    ["12.5 3x", 12.5, 3],
    ["\n1 2", 1, 2],
    ["1\r2\n", 1, 2],
    ["\f1\v2", 1, 2],
    ["1 2 3", 1, 2],
    ["1 2\0", 1, 2],
    ["+7 +.5", 7, 0.5],
    [".5 1.", 0.5, 1],
    ["1.5.5 2", 1.5, 0.5],
    ["1e 2", 1, 2],
    ["1e+ 2", 1, 2],
    ["5 1e+", 5, 1],
    ["0x10 1", 16, 1],
    ["0x1p3 0x.8", 8, 0.5],
    ["0x1.8 0X.1P4", 1.5, 1],
    ["0x1p 2", 1, 2],
    ["5 0x.", 5, 0],
    ["00012 1", 12, 1],
    ["INF 1", Infinity, 1],
    ["-infinity 2", -Infinity, 2],
    ["5 1e400", 5, Infinity],
    ["1e-400 1", 0, 1],
    ["12.5 -1", 12.5, -1],
  ];
  for (const [text, frequency, skew] of cases) {
    assert.deepEqual(parseDriftfile(text), { frequency, skew }, JSON.stringify(text));
  }
  assert.ok(Number.isNaN(parseDriftfile("5 NaN").skew));
  assert.ok(Number.isNaN(parseDriftfile("5 nan(abc)").skew));
  assert.ok(Object.is(parseDriftfile("-0 1").frequency, -0));
});

Deno.test("driftfile: limits and messages as chronyd 4.3", () => {
  const lim = (f: number, s: number) => limitDrift({ frequency: f, skew: s }, 500000);
  assert.deepEqual(lim(1e9, 1), { drift: { frequency: 500000, skew: 1 }, exceeded: true });
  assert.deepEqual(lim(-1e9, 1), { drift: { frequency: -500000, skew: 1 }, exceeded: true });
  assert.deepEqual(lim(NaN, 1), { drift: { frequency: 500000, skew: 1 }, exceeded: true });
  assert.deepEqual(lim(-Infinity, 1), { drift: { frequency: -500000, skew: 1 }, exceeded: true });
  assert.deepEqual(lim(12.5, -1), { drift: { frequency: 12.5, skew: 1e-6 }, exceeded: false });
  assert.deepEqual(lim(5, 1e-9).drift.skew, 1e-6);
  assert.equal(lim(5, Infinity).drift.skew, Infinity);
  assert.ok(Number.isNaN(lim(5, NaN).drift.skew));
  assert.equal(
    driftReadMessage({ frequency: -1e9, skew: NaN }, "/d"),
    "Frequency -1000000000.000 +/- nan ppm read from /d",
  );
  const exceeded = (t: string) => driftExceededMessage(parseDriftfile(t));
  assert.equal(exceeded("-inf 1"), "Frequency -inf ppm exceeds allowed maximum");
  assert.equal(exceeded("1e9 1"), "Frequency 1000000000.0 ppm exceeds allowed maximum");
  // chronyd 4.3 prints a NaN read as "-nan" with its sign, and writes it back so.
  assert.equal(exceeded("-nan 1"), "Frequency -nan ppm exceeds allowed maximum");
  const negative = parseDriftfile("5 -nan");
  assert.equal(driftReadMessage(negative, "/d"), "Frequency 5.000 +/- -nan ppm read from /d");
  assert.equal(
    formatDriftfile(limitDrift(negative, 500000).drift).slice(21),
    "                -nan\n",
  );
});

Deno.test("driftfile: written as C's %20.6f (inf, nan, -0, every digit)", () => {
  assert.equal(
    formatDriftfile({ frequency: 0, skew: 1e6 }),
    "            0.000000       1000000.000000\n",
  );
  assert.equal(
    formatDriftfile({ frequency: -0, skew: Infinity }),
    "           -0.000000                  inf\n",
  );
  assert.equal(formatDriftfile({ frequency: 5, skew: NaN }).slice(21), "                 nan\n");
  assert.equal(cFixed(1e21, 1), "1000000000000000000000.0");
  assert.equal(cFixed(-1e300, 0), "-" + BigInt(1e300).toString());
  assert.equal(cFixed(-0.0000001, 3), "-0.000");
});
