import assert from "node:assert/strict";
import { SimClock } from "../../lib/clock/sim_clock.ts";
import { Prng } from "../../lib/clock/prng.ts";
import type { ParameterChange } from "../../lib/clock/clock.ts";
import { fromSecNsec } from "../../lib/time/timestamp.ts";

const close = (a: number, b: number, tol: number) =>
  assert.ok(Math.abs(a - b) <= tol, `${a} != ${b} (±${tol})`);

Deno.test("SimClock: an uncorrected clock gains its frequency error", () => {
  const c = new SimClock({ start: 0n, offset: 0.1, frequencyError: 100, seed: 1 });
  c.advance(10);
  close(c.trueOffset(), 0.1 + 10 * 100e-6, 1e-15);
  assert.equal(c.trueTime(), 10_000_000_000n);
  assert.equal(c.rawNow(), 10_101_000_000n);
  assert.equal(c.now(), 10_101_000_000n);
  close(c.trueFrequencyError(), 100e-6, 1e-18);
});

Deno.test("SimClock: accumulateOffset moves cooked time at once and slews raw at maxslewrate", () => {
  const c = new SimClock({ start: 0n, offset: 0.1, seed: 1 });
  c.accumulateOffset(0.1, 0);
  assert.equal(c.now(), 0n);
  close(c.remainingCorrection(), 0.1, 1e-15);
  c.advance(0.6);
  // 0.6 true seconds at 83333.333 ppm slower: raw rate 1 - 0.083333333
  close(c.trueOffset(), 0.1 - 0.6 * 0.083333333, 1e-12);
  close(c.trueCookedOffset(), 0, 1e-9);
  c.advance(1);
  close(c.trueOffset(), 0, 1e-9);
  close(c.remainingCorrection(), 0, 1e-9);
  assert.equal(c.readFrequency(), 0);
});

Deno.test("SimClock: a slew's duration is correctionRate / |offset|", () => {
  const c = new SimClock({ start: 0n, offset: -0.001, seed: 1 });
  c.accumulateOffset(-0.001, 0.01); // 10 s at 100 ppm
  c.advance(5);
  close(c.trueOffset(), -0.0005, 1e-9);
  c.advance(5.001);
  close(c.trueOffset(), 0, 1e-9);
  c.advance(10);
  close(c.trueOffset(), 0, 1e-9);
});

Deno.test("SimClock: setFrequency corrects the frequency error and notifies dfreq", () => {
  const c = new SimClock({ start: 0n, frequencyError: 100, seed: 1 });
  const changes: ParameterChange[] = [];
  c.onParameterChange((ch) => changes.push(ch));
  c.setFrequency(100);
  close(c.trueFrequencyError(), -1e-8, 1e-18);
  assert.equal(changes.length, 1);
  close(changes[0]!.dfreq, -100e-6, 1e-18);
  assert.equal(changes[0]!.doffset, 0);
  assert.equal(changes[0]!.isStep, false);
});

Deno.test("SimClock: step moves raw and cooked time back and drops the slew", () => {
  const c = new SimClock({ start: 0n, offset: 2.5, seed: 1 });
  const changes: ParameterChange[] = [];
  c.onParameterChange((ch) => changes.push(ch));
  c.accumulateOffset(0.5, 0);
  c.step(2);
  assert.equal(c.trueOffset(), 0);
  assert.equal(c.remainingCorrection(), 0);
  assert.equal(c.now(), 0n);
  assert.deepEqual(changes.map((ch) => [ch.doffset, ch.isStep]), [[-0.5, false], [-2, true]]);
});

Deno.test("SimClock: the frequency random walk is reproducible from the seed", () => {
  const a = new SimClock({ start: 0n, wander: 1e-9, seed: 7 });
  const b = new SimClock({ start: 0n, wander: 1e-9, seed: 7 });
  a.advance(100);
  for (let i = 0; i < 100; i++) b.advance(1);
  assert.equal(a.naturalFrequencyError(), b.naturalFrequencyError());
  assert.equal(a.trueOffset(), b.trueOffset());
  const rng = new Prng(7);
  let e = 0;
  for (let i = 0; i < 100; i++) e += rng.normal(0, 1e-9);
  assert.equal(a.naturalFrequencyError(), e);
  assert.notEqual(e, 0);
});

Deno.test("SimClock: an armed leap insertion steps raw time back at midnight UTC", () => {
  const start = fromSecNsec(1483228800 - 10, 0); // 2016-12-31T23:59:50Z
  const c = new SimClock({ start, seed: 1 });
  c.setLeap(1);
  assert.equal(c.kernelLeap(), 1);
  c.advance(9.5);
  assert.equal(c.trueOffset(), 0);
  c.advance(1);
  assert.equal(c.trueOffset(), -1);
  assert.equal(c.kernelLeap(), 0);
});

Deno.test("SimClock: sync status reaches the simulated kernel", () => {
  const c = new SimClock({ start: 0n, seed: 1 });
  c.setSyncStatus(true, 1e-5, 0.02);
  assert.deepEqual(c.kernelSyncStatus(), { synced: true, estError: 1e-5, maxError: 0.02 });
});
