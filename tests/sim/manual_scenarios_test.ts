/**
 * horae's own scenarios for manual time input and initstepslew (not in
 * SIM-SCENARIOS.md): an isolated master set by `settime` every 2 h with
 * readings up to 50 ms off, and a client 5 s off corrected by initstepslew.
 */
import assert from "node:assert/strict";
import { runScenario, type SimResult } from "../../lib/sim/simulation.ts";
import { scenario } from "../../lib/sim/scenarios.ts";

const show = (r: SimResult) =>
  `${r.scenario} seed ${r.seed}: sync ${r.syncTime}, rms ${r.rmsOffset}, max ${r.maxOffset}, ` +
  `final ${r.finalOffset}, freq ${r.freqError} ppm, steps ${r.steps}\n${r.log.join("\n")}`;

Deno.test("sim manual: settime every 2 h takes +100 ppm down to a few ppm, offset = last reading", () => {
  for (const seed of [1, 2, 3]) {
    const r = runScenario(scenario("manual"), { seed });
    // five readings ±50 ms apart by 2 h: the frequency is known to ~(0.1 s / 7200 s) = 14 ppm
    assert.ok(Math.abs(r.freqError) < 5, show(r));
    // the last reading was 40 ms late: the clock ends that far fast, never more than ~0.8 s off
    assert.ok(Math.abs(r.finalOffset - 0.04) < 5e-3, show(r));
    assert.ok(r.maxOffset < 1, show(r));
    assert.equal(r.steps, 0, show(r));
    assert.equal(r.log.filter((l) => l.includes("Making a frequency change")).length, 4, show(r));
  }
});

Deno.test("sim initstepslew: a client 5 s off is stepped once before normal operation", () => {
  for (const seed of [1, 2, 3]) {
    const r = runScenario(scenario("initstepslew"), { seed });
    assert.equal(r.steps, 1, show(r));
    assert.ok(r.log.some((l) => /initial offset : 5\.0\d+ seconds fast of true \(step\)/.test(l)));
    assert.ok(r.syncTime !== null && r.syncTime <= 10, show(r));
    assert.ok(r.maxOffset < 1e-3, show(r));
  }
  // threshold above the offset: slewed, no step
  const s = scenario("initstepslew");
  s.client.initstepslew = 10;
  const r = runScenario(s, { seed: 1, duration: 600 });
  assert.equal(r.steps, 0, show(r));
  assert.ok(r.log.some((l) => l.includes("(slew)")), show(r));
});
