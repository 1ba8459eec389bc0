import assert from "node:assert/strict";
import { Prng } from "../../lib/clock/prng.ts";
import {
  countRuns,
  curvatureT,
  findStep,
  regress,
  RegressionError,
  runsAcceptable,
} from "../../lib/clock/regression.ts";

/** Deterministic noise in [-1, 1) (LCG), so tests need no Math.random. */
function noise(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  };
}

Deno.test("regress recovers slope and offset of noiseless data within 1e-12", () => {
  const x: number[] = [], y: number[] = [], w: number[] = [];
  for (let i = -20; i <= 0; i++) {
    x.push(i * 64);
    y.push(0.0123 + 37.5e-6 * i * 64);
    w.push(i % 3 === 0 ? 1 : 0.25);
  }
  const fit = regress(x, y, w, { minKeep: 6 });
  assert.ok(Math.abs(fit.intercept - 0.0123) < 1e-12, `${fit.intercept}`);
  assert.ok(Math.abs(fit.slope - 37.5e-6) < 1e-12, `${fit.slope}`);
  assert.equal(fit.start, 0);
  assert.equal(fit.used, 21);
  assert.ok(fit.residualSd < 1e-12);
});

Deno.test("regress on three exact points gives the exact line", () => {
  const fit = regress([-2, -1, 0], [0.1, 0.2, 0.3], [1, 1, 1], { minKeep: 3 });
  assert.ok(Math.abs(fit.slope - 0.1) < 1e-15);
  assert.ok(Math.abs(fit.intercept - 0.3) < 1e-15);
});

Deno.test("regress with noise stays within a few standard errors and estimates the noise", () => {
  const rnd = noise(42);
  const x: number[] = [], y: number[] = [], w: number[] = [];
  const sigma = 10e-6;
  for (let i = -63; i <= 0; i++) {
    x.push(i * 16);
    // Sum of three uniforms: roughly normal, sd = sigma.
    const e = (rnd() + rnd() + rnd()) * sigma;
    y.push(-0.002 + 2e-6 * i * 16 + e);
    w.push(1);
  }
  const fit = regress(x, y, w, { minKeep: 6 });
  assert.ok(Math.abs(fit.slope - 2e-6) < 4 * fit.slopeSd, `slope ${fit.slope} sd ${fit.slopeSd}`);
  assert.ok(fit.slopeSd > 0 && fit.slopeSd < 1e-7);
  const xm0 = fit.intercept + 2e-6 * 0;
  assert.ok(Math.abs(xm0 + 0.002) < 4 * fit.interceptSd + 1e-12);
  assert.ok(fit.residualSd > 0.5 * sigma && fit.residualSd < 1.5 * sigma, `${fit.residualSd}`);
});

Deno.test("weighted regression follows the heavy points", () => {
  // Two heavy points on y = x, one light outlier.
  const fit = regress([-2, -1, 0], [-2, 5, 0], [1e6, 1e-6, 1e6], { minKeep: 3 });
  assert.ok(Math.abs(fit.slope - 1) < 1e-5);
  assert.ok(Math.abs(fit.intercept) < 1e-5);
});

Deno.test("runs test drops old samples after a frequency jump", () => {
  const x: number[] = [], y: number[] = [], w: number[] = [];
  const rnd = noise(7);
  // 40 samples at 0 ppm, then 10 at +50 ppm, 16 s apart, 1 µs noise.
  for (let i = 0; i < 50; i++) {
    const t = (i - 49) * 16;
    const base = i < 40 ? 0 : 50e-6 * (i - 39) * 16;
    x.push(t);
    y.push(base + rnd() * 1e-6);
    w.push(1);
  }
  const fit = regress(x, y, w, { minKeep: 6 });
  assert.ok(fit.start >= 38, `start ${fit.start}`);
  assert.ok(Math.abs(fit.slope - 50e-6) < 2e-6, `slope ${fit.slope}`);
});

Deno.test("runs test keeps all samples of a straight noisy line", () => {
  const x: number[] = [], y: number[] = [], w: number[] = [];
  // Alternating residuals: many runs.
  for (let i = 0; i < 30; i++) {
    x.push(i - 29);
    y.push(1e-6 * (i - 29) + (i % 2 === 0 ? 1e-6 : -1e-6));
    w.push(1);
  }
  const fit = regress(x, y, w, { minKeep: 6 });
  assert.equal(fit.start, 0);
  assert.equal(fit.runs, 30);
});

Deno.test("regress never keeps fewer than minKeep points", () => {
  // A parabola leaves 3 runs: too few for any length of 15 or more.
  const x: number[] = [], y: number[] = [], w: number[] = [];
  for (let i = 0; i < 20; i++) {
    x.push(i - 19);
    y.push((i - 10) ** 2 * 1e-6);
    w.push(1);
  }
  const fit = regress(x, y, w, { minKeep: 15 });
  assert.equal(fit.used, 15);
  assert.equal(fit.start, 5);
  assert.equal(fit.runs, 3);
});

Deno.test("countRuns counts sign changes plus one", () => {
  assert.equal(countRuns([1, 2, -1, -2, 3, 0, -1]), 4);
  assert.equal(countRuns([]), 0);
  assert.equal(countRuns([-1]), 1);
});

Deno.test("runsAcceptable rejects two long runs and accepts alternation", () => {
  assert.equal(runsAcceptable(2, 10, 10), false);
  assert.equal(runsAcceptable(20, 10, 10), true);
  assert.equal(runsAcceptable(11, 10, 10), true);
  assert.equal(runsAcceptable(1, 2, 0), true);
  assert.equal(runsAcceptable(1, 8, 0), false);
});

Deno.test("regress rejects empty, mismatched and non-positive-weight input", () => {
  assert.throws(() => regress([], [], [], { minKeep: 3 }), RegressionError);
  assert.throws(() => regress([0, 1], [0], [1, 1], { minKeep: 3 }), RegressionError);
  assert.throws(() => regress([0, 1], [0, 1], [1, 0], { minKeep: 3 }), RegressionError);
});

Deno.test("curvature test: old points go when the slope bends, a noisy line keeps them", () => {
  const rng = new Prng(11);
  const n = 40;
  const x = Array.from({ length: n }, (_, i) => (i - (n - 1)) * 64);
  const w = x.map(() => 1);
  // offsets bend smoothly: frequency changes linearly over the window, noise 1 µs
  const bent = x.map((t) => 2e-9 * t * t / 64 + rng.normal(0, 1e-6));
  assert.ok(Math.abs(curvatureT(x, bent, w, 0)) > 5);
  const fitBent = regress(x, bent, w, { minKeep: 6 });
  const plain = regress(x, bent, w, { minKeep: 6, curvature: false });
  assert.ok(fitBent.start > plain.start, `start ${fitBent.start} vs ${plain.start}`);
  // the newest offset (0 at x = 0) is estimated better once the bend is dropped
  assert.ok(Math.abs(fitBent.intercept) < Math.abs(plain.intercept));
  // a straight noisy line: no curvature to find
  const line = x.map((t) => 1e-3 + 1e-7 * t + rng.normal(0, 1e-6));
  assert.ok(Math.abs(curvatureT(x, line, w, 0)) < 3);
  assert.equal(regress(x, line, w, { minKeep: 6 }).start, 0);
  // too few points: no statistic
  assert.equal(curvatureT([0, 1, 2, 3], [0, 1, 4, 9], [1, 1, 1, 1], 0), 0);
});

/** 40 points at 1 s, noise ±10 µs and a 1 ppm slope, the offsets after `stepAt` moved by `step`. */
function stepped(stepAt: number, step: number, n = 40, seed = 7) {
  const r = noise(seed);
  const x: number[] = [], y: number[] = [], w: number[] = [];
  for (let i = 0; i < n; i++) {
    x.push(i - (n - 1));
    y.push(1e-6 * i + 10e-6 * r() + (i >= stepAt ? step : 0));
    w.push(1);
  }
  return { x, y, w };
}

Deno.test("findStep: a 5 ms step with 3 points after it, its size and place; none in plain noise", () => {
  for (const seed of [1, 2, 3, 4, 5]) {
    const { x, y, w } = stepped(37, -5e-3, 40, seed);
    const s = findStep(x, y, w, 6);
    assert.ok(s !== null, `seed ${seed}`);
    assert.equal(s.at, 37);
    assert.ok(Math.abs(s.size + 5e-3) < 30e-6, `size ${s.size}`);
    const plain = stepped(99, 0, 40, seed);
    assert.equal(findStep(plain.x, plain.y, plain.w, 6), null, `noise, seed ${seed}`);
  }
});

Deno.test("findStep: a point after a large step on a noisier path is still after it", () => {
  const { x, y, w } = stepped(35, -5e-3);
  y[37]! += 300e-6; // 30 times the noise, 6 % of the step
  const s = findStep(x, y, w, 6);
  assert.equal(s?.at, 35, JSON.stringify(s));
});

Deno.test("findStep: a bend of the frequency and outliers that disagree are no step", () => {
  // 40 ppm faster from point 34 on: the newest points drift apart, no common shift.
  const bend = stepped(99, 0);
  for (let i = 34; i < 40; i++) bend.y[i]! += 40e-6 * (i - 33);
  assert.equal(findStep(bend.x, bend.y, bend.w, 6), null);
  // two points 5 ms off, then a normal one
  const out = stepped(99, 0);
  out.y[37]! += 5e-3;
  out.y[38]! += 5e-3;
  const s = findStep(out.x, out.y, out.w, 6);
  assert.equal(s, null, JSON.stringify(s));
});

Deno.test("regress with steps: the newest point after a step is left out, then the step is fitted as a shift, then the points before it go", () => {
  const fits = [];
  // (looked for among the newest minKeep points: SourceStats drops the older ones at minKeep)
  for (let n = 38; n <= 43; n++) {
    const { x, y, w } = stepped(37, 5e-3, n);
    fits.push({ n, fit: regress(x, y, w, { minKeep: 6, steps: true }) });
  }
  for (const { n, fit } of fits) {
    const after = n - 37;
    // the slope (1 ppm) never follows the step
    assert.ok(Math.abs(fit.slope - 1e-6) < 2e-6, `${after} after: slope ${fit.slope}`);
    if (after < 2) {
      // one point off the line might be an outlier: left out, the line is the older points'
      assert.equal(fit.end, 37);
      assert.equal(fit.step, null);
      assert.ok(Math.abs(fit.intercept - 1e-6 * (n - 1)) < 20e-6, `intercept ${fit.intercept}`);
    } else if (after < 6) {
      // a step: fitted as a shift of the older points (kept: fewer than minKeep after it)
      assert.equal(fit.end, n);
      assert.equal(fit.step?.at, 37);
      assert.equal(fit.start, 0);
      assert.ok(Math.abs(fit.intercept - 5e-3 - 1e-6 * (n - 1)) < 20e-6, `${fit.intercept}`);
    } else {
      // minKeep points after it: the points before it go
      assert.equal(fit.start, 37, `${after} after`);
      assert.equal(fit.step, null);
    }
  }
  // without the option (the RTC's regression) nothing changes: the step is in the fit
  const { x, y, w } = stepped(37, 5e-3, 40);
  const plain = regress(x, y, w, { minKeep: 6 });
  assert.equal(plain.end, 40);
  assert.ok(Math.abs(plain.slope) > 50e-6, `${plain.slope}`);
});
