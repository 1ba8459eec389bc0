import assert from "node:assert/strict";
import {
  attachTempComp,
  combinedFrequency,
  compensation,
  compensationProblem,
  parseSensor,
  parseTempCompPoints,
  TempCompError,
  uncompensatedFrequency,
} from "../../lib/clock/tempcomp.ts";
import { SimClock } from "../../lib/clock/sim_clock.ts";
import { tempCompLine } from "../../lib/engine/logfiles.ts";
import { banner } from "../../lib/engine/logfiles.ts";
import { fromUnixSeconds } from "../../lib/time/timestamp.ts";

const POINTS = "20000 1.0\n21000 0.64\n22000 0.36\n23000 0.16\n24000 0.04\n25000 0.0\n" +
  "26000 0.04\n27000 0.16\n28000 0.36\n29000 0.64\n30000 1.0\n";

Deno.test("tempcomp: sensor text read like sscanf %lf (chronyd: '  27500.5 junk' is 27500.5)", () => {
  assert.equal(parseSensor("28000\n"), 28000);
  assert.equal(parseSensor("  27500.5 junk"), 27500.5);
  assert.equal(parseSensor("-1.5e3"), -1500);
  assert.equal(parseSensor("junk"), null);
  assert.equal(parseSensor(""), null);
});

Deno.test("tempcomp: coefficients (chrony.conf(5) example: 28000 gives 0.366 ppm)", () => {
  const c = { t0: 26000, k0: 0, k1: 0.000183, k2: 0 };
  assert.ok(Math.abs(compensation(c, 28000) - 0.366) < 1e-12);
  assert.ok(Math.abs(compensation({ ...c, k0: 1, k2: 1e-6 }, 27000) - (1 + 0.183 + 1)) < 1e-12);
  assert.equal(compensationProblem(0.366), null);
  assert.equal(
    compensationProblem(compensation(c, 100000)),
    "Temperature compensation of 13.542 ppm exceeds sanity limit of 10.0",
  );
});

Deno.test("tempcomp: points interpolated and extrapolated (chronyd: 28500 gives 0.5, 35000 gives 2.5)", () => {
  const p = parseTempCompPoints(POINTS, "/p");
  assert.ok(Math.abs(compensation(p, 28500) - 0.5) < 1e-12);
  assert.ok(Math.abs(compensation(p, 25000) - 0) < 1e-12);
  assert.ok(Math.abs(compensation(p, 19000) - 1.36) < 1e-12);
  const q = parseTempCompPoints("30000 2.0\n20000 1.0\n", "/q");
  assert.ok(Math.abs(compensation(q, 35000) - 2.5) < 1e-12);
});

Deno.test("tempcomp: points file errors in chronyd's words", () => {
  assert.throws(
    () => parseTempCompPoints("20000 1.0\n", "/p"),
    (e) => e instanceof TempCompError && e.message === "Not enough points in /p",
  );
  assert.throws(() => parseTempCompPoints("", "/p"), /Not enough points in \/p/);
  assert.throws(
    () => parseTempCompPoints("20000 1.0\n\n30000 2.0\n", "/p"),
    /Could not read tempcomp point from \/p/,
  );
  assert.throws(() => parseTempCompPoints("20000 1.0\nbad line\n", "/p"), /Could not read/);
});

Deno.test("tempcomp: the clock runs faster by the compensation, the discipline sees its own frequency", () => {
  assert.ok(Math.abs(uncompensatedFrequency(combinedFrequency(12.5, 3), 3) - 12.5) < 1e-12);
  const clock = new SimClock({
    start: fromUnixSeconds(1_700_000_000),
    offset: 0,
    frequencyError: 0,
    wander: 0,
    seed: 1,
  });
  const changes: number[] = [];
  clock.onParameterChange((c) => changes.push(c.dfreq));
  const raw = clock.readFrequency.bind(clock);
  const setComp = attachTempComp(clock);
  clock.setFrequency(10);
  assert.ok(Math.abs(clock.readFrequency() - 10) < 1e-9);
  setComp(0.5);
  // the discipline's value is unchanged, the clock's own one is 0.5 ppm lower (runs faster)
  assert.ok(Math.abs(clock.readFrequency() - 10) < 1e-9);
  assert.ok(Math.abs(raw() - combinedFrequency(10, 0.5)) < 1e-9);
  assert.ok(Math.abs(raw() - 9.500005) < 1e-9);
  // and listeners were told the clock gains 0.5 ppm more
  assert.ok(Math.abs(changes.at(-1)! - 0.5e-6) < 1e-11, String(changes.at(-1)));
  clock.setFrequency(-3);
  assert.ok(Math.abs(clock.readFrequency() + 3) < 1e-9);
});

Deno.test("tempcomp.log: chronyd 4.3's banner and columns", () => {
  assert.equal(
    banner("tempcomp"),
    "===========================================\n" +
      "   Date (UTC) Time        Temp.       Comp.\n" +
      "===========================================\n",
  );
  assert.equal(
    tempCompLine(fromUnixSeconds(1_796_418_014), 28000, 0.366),
    "2026-12-04 21:00:14  2.8000e+04  3.6600e-01",
  );
  assert.equal(
    tempCompLine(fromUnixSeconds(1_796_418_014), 27500.5, -0.2745915),
    "2026-12-04 21:00:14  2.7500e+04 -2.7459e-01",
  );
});
