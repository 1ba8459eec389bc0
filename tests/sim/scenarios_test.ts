/**
 * The SIM-SCENARIOS.md scenarios on the deterministic simulator. Bounds are
 * chrony's own simulation-test bounds (max 1 ms, RMS 0.3 ms after warm-up on
 * a LAN) or chrony 4.3's measured figures where horae meets them; see
 * docs/ARCHITECTURE.md (lib/sim) for the figures where it does not yet.
 */
import assert from "node:assert/strict";
import { runScenario, type SimResult } from "../../lib/sim/simulation.ts";
import { scenario } from "../../lib/sim/scenarios.ts";

const SEEDS = [1, 2, 3];

function run(name: string, seed: number, duration?: number): SimResult {
  return runScenario(scenario(name), { seed, ...(duration ? { duration } : {}) });
}

function show(r: SimResult): string {
  return `${r.scenario} seed ${r.seed}: sync ${r.syncTime} s, rms ${r.rmsOffset}, max ${r.maxOffset}, ` +
    `freq ${r.freqError} ppm, marks ${r.sources.map((s) => s.mark).join("")}`;
}

Deno.test("sim: a run is a pure function of its scenario and seed", () => {
  const a = run("lan", 7, 2000), b = run("lan", 7, 2000), c = run("lan", 8, 2000);
  assert.equal(a.rmsOffset, b.rmsOffset);
  assert.equal(a.maxOffset, b.maxOffset);
  assert.equal(a.freqError, b.freqError);
  assert.notEqual(a.rmsOffset, c.rmsOffset);
});

Deno.test("sim lan: +100 ppm, 0.1 s off: synced within 7 s, max < 1 ms, rms < 0.3 ms", () => {
  for (const seed of SEEDS) {
    const r = run("lan", seed);
    assert.ok(r.syncTime !== null && r.syncTime <= 7, show(r));
    assert.ok(r.maxOffset < 1e-3 && r.rmsOffset < 0.3e-3, show(r));
    assert.ok(Math.abs(r.freqError) < 0.5, show(r));
    assert.equal(r.steps, 0, show(r));
  }
});

Deno.test("sim lan-1s: at or below chrony 4.3 (sync 4 s, rms 1.14 µs, max 7.9 µs)", () => {
  for (const seed of SEEDS) {
    const r = run("lan-1s", seed);
    assert.ok(r.syncTime !== null && r.syncTime <= 4, show(r));
    assert.ok(r.rmsOffset <= 1.14e-6 && r.maxOffset <= 7.9e-6, show(r));
  }
});

Deno.test("sim wan-asym: max offset at or below chrony 4.3's 2.13 ms, tracks the visible time (seed 1)", () => {
  const r = runScenario(scenario("wan-asym"), { seed: 1, trace: true });
  assert.ok(r.maxOffset <= 2.13e-3, show(r));
  // The 2 ms asymmetry puts the time any NTP client can see 1 ms behind true time: the RMS
  // distance to that is what the filter and regression control (it was 472 µs before the
  // flat fit, the curvature test and the finer weights; 147 µs after).
  let sum2 = 0, n = 0;
  for (let k = r.warmup; k < r.trace!.length; k++) {
    sum2 += (r.trace![k]! + 1e-3) ** 2;
    n++;
  }
  const rms = Math.sqrt(sum2 / n);
  assert.ok(rms < 300e-6, `rms about -1 ms: ${rms}; ${show(r)}`);
});

Deno.test("sim loss30: 30 % loss each way, stays synchronised (max < 1 ms after warm-up)", () => {
  for (const seed of SEEDS) {
    const r = run("loss30", seed);
    assert.ok(r.maxOffset < 1e-3, show(r));
    assert.equal(r.selected, 0, show(r));
    assert.ok(r.sources[0]!.reach !== 0, show(r));
  }
});

Deno.test("sim falsetickers: the two 1 s-off servers end marked x, a truechimer selected, synced", () => {
  for (const seed of [1, 2, 3, 4, 5]) {
    const r = run("falsetickers", seed);
    assert.deepEqual([r.sources[1]!.mark, r.sources[3]!.mark], ["x", "x"], show(r));
    assert.ok(r.selected !== null && [0, 2, 4].includes(r.selected), show(r));
    assert.ok(Math.abs(r.finalOffset) < 1e-3, show(r));
  }
});

Deno.test({
  name: "sim falsetickers: never follows the falsetickers (max < 1 ms after warm-up, every seed)",
  fn: () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const r = run("falsetickers", seed);
      assert.ok(r.maxOffset < 1e-3 && r.steps === 0, show(r));
    }
  },
});

Deno.test("sim makestep: 100 s off is stepped once, then synchronised", () => {
  for (const seed of SEEDS) {
    const r = run("makestep", seed);
    assert.equal(r.steps, 1, show(r));
    assert.ok(r.syncTime !== null && r.syncTime <= 10, show(r));
    assert.ok(r.maxOffset < 1e-3, show(r));
  }
});

Deno.test("sim freq-minus100: -100 ppm is corrected like +100 ppm", () => {
  for (const seed of SEEDS) {
    const r = run("freq-minus100", seed);
    assert.ok(r.syncTime !== null && r.syncTime <= 7, show(r));
    assert.ok(r.maxOffset < 1e-3 && r.rmsOffset < 0.3e-3, show(r));
    assert.ok(Math.abs(r.freqError) < 0.5, show(r));
  }
});

Deno.test("sim server-step: the only server steps 1 s; the client slews after it, no step", () => {
  const r = run("server-step", 1);
  assert.equal(r.steps, 0, show(r));
  assert.ok(r.resyncAfterStep !== null && r.resyncAfterStep <= 4096, `resync ${r.resyncAfterStep}`);
  assert.ok(Math.abs(r.finalOffset - 1) < 1e-3, show(r));
});

Deno.test("sim server-step-5ms: the server steps 5 ms at 1 s polls; the frequency stays put", () => {
  // issue 17: horae's frequency swung by 700-870 ppm here, then by up to 0.5 ppm (chronyd 4.3
  // behind a real server stepped 5 ms: under 3 ppm); the step is found in the source's
  // samples (lib/clock/regression.ts findStep): under 0.3 ppm, and the samples from before
  // the step are gone 6 samples after it.
  for (const seed of SEEDS) {
    let worst = 0, straddle = 0;
    const r = runScenario(scenario("server-step-5ms"), {
      seed,
      onUpdate: (t, engine, clock) => {
        if (t > 1400) worst = Math.max(worst, Math.abs(clock.trueFrequencyError()) * 1e6);
        const span = engine.sourceSnapshots()[0]!.statistics.span;
        if (t > 1508 && span > t - 1500) straddle = Math.max(straddle, t);
      },
    });
    assert.equal(r.steps, 0, show(r));
    assert.ok(worst < 0.3, `seed ${seed}: largest |frequency error| ${worst} ppm`);
    assert.equal(straddle, 0, `seed ${seed}: a sample from before the step kept at ${straddle} s`);
    assert.ok(r.resyncAfterStep !== null && r.resyncAfterStep <= 5, `resync ${r.resyncAfterStep}`);
  }
});

Deno.test("sim leap: the announced insertion is applied by the kernel; offset stays < 1 ms", () => {
  for (const seed of SEEDS) {
    const r = run("leap", seed);
    assert.ok(r.leapApplied, show(r));
    assert.ok(r.maxOffset < 1e-3, show(r));
  }
});

Deno.test("sim iburst: 4-8 quick requests, first update and sync within seconds", () => {
  for (const seed of SEEDS) {
    const r = run("iburst", seed);
    assert.ok(r.earlyRequests >= 4 && r.earlyRequests <= 8, `requests ${r.earlyRequests}`);
    assert.ok(r.firstUpdate !== null && r.firstUpdate <= 8, show(r));
    assert.ok(r.syncTime !== null && r.syncTime <= 10, show(r));
  }
});

Deno.test("a source given by name is logged as chronyd names it: 'ADDRESS (NAME)'", () => {
  const s = scenario("lan");
  s.sources[0] = { ...s.sources[0]!, name: "ntp.example.net" };
  const r = runScenario(s, { seed: 1, duration: 300 });
  assert.ok(
    r.log.some((l) => l.endsWith("Selected source 192.0.2.1 (ntp.example.net)")),
    r.log.join("\n"),
  );
});
