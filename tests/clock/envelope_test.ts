import assert from "node:assert/strict";
import { floorFit, upperHullLine } from "../../lib/clock/envelope.ts";
import { Prng } from "../../lib/clock/prng.ts";
import type { Sample } from "../../lib/clock/sample.ts";
import {
  FLOOR_GUARD,
  FLOOR_MIN_SAMPLES,
  floorGuard,
  SourceStats,
} from "../../lib/clock/sourcestats.ts";

const S = 1_000_000_000n;
const T0 = 1_700_000_000n * S;

function close(actual: number, expected: number, tol: number, what = ""): void {
  assert.ok(Math.abs(actual - expected) <= tol, `${what} ${actual} != ${expected} ± ${tol}`);
}

/**
 * Exchanges on a path with fixed one-way delays `up`/`down` plus exponential
 * queueing (means `ju`/`jd`); the local clock is `x0` fast and gains `freq`.
 * Returns times (s, newest 0), offsets (local minus source) and delays.
 */
function exchanges(
  n: number,
  o: { up: number; down: number; ju: number; jd: number; x0: number; freq: number; seed: number },
) {
  const rng = new Prng(o.seed);
  const t: number[] = [], offset: number[] = [], delay: number[] = [];
  for (let i = 0; i < n; i++) {
    const qu = o.ju > 0 ? rng.exponential(o.ju) : 0;
    const qd = o.jd > 0 ? rng.exponential(o.jd) : 0;
    const ti = (i - (n - 1)) * 16;
    t.push(ti);
    offset.push(o.x0 + o.freq * ti + (o.down + qd - o.up - qu) / 2);
    delay.push(o.up + qu + o.down + qd);
  }
  return { t, offset, delay };
}

Deno.test("upperHullLine: the line over all points through the hull edge over their mean time", () => {
  // points on or below y = 1 + 0.5 t; the ones at t = 1 and t = 3 touch it
  const t = [0, 1, 2, 3, 4];
  const y = [0.2, 1.5, 1.0, 2.5, 1.0];
  const line = upperHullLine(t, y)!;
  close(line.intercept, 1, 1e-12, "intercept");
  close(line.slope, 0.5, 1e-12, "slope");
  for (let i = 0; i < t.length; i++) {
    assert.ok(line.intercept + line.slope * t[i]! >= y[i]! - 1e-12);
  }
  assert.equal(upperHullLine([5], [1]), null);
  assert.equal(upperHullLine([5, 5], [1, 2]), null);
});

Deno.test("floorFit: packets that met no queue give the offset exactly, whatever the others met", () => {
  // true offset 1 ms + 2 ppm * t; 100 µs up, 100 µs down; two unqueued packets each way
  const t = [-48, -32, -16, 0];
  const qu = [0, 300e-6, 0, 50e-6];
  const qd = [400e-6, 0, 20e-6, 0];
  const offset = t.map((ti, i) => 1e-3 + 2e-6 * ti + (qd[i]! - qu[i]!) / 2);
  const delay = t.map((_, i) => 200e-6 + qu[i]! + qd[i]!);
  const fit = floorFit(t, offset, delay)!;
  close(fit.intercept, 1e-3, 1e-12, "offset at 0");
  close(fit.slope, 2e-6, 1e-15, "slope");
  close(fit.lower.intercept, 1e-3 - 100e-6, 1e-12, "request floor");
  close(fit.upper.intercept, 1e-3 + 100e-6, 1e-12, "reply floor");
  // every one-way point lies on the right side of its floor
  for (let i = 0; i < t.length; i++) {
    assert.ok(offset[i]! - delay[i]! / 2 <= fit.lower.intercept + fit.lower.slope * t[i]! + 1e-15);
    assert.ok(offset[i]! + delay[i]! / 2 >= fit.upper.intercept + fit.upper.slope * t[i]! - 1e-15);
  }
  assert.equal(floorFit([0], [0], [0]), null);
});

Deno.test("floorFit: the fixed asymmetry stays (invisible), the jitter of each direction goes", () => {
  // 20 ms up, 22 ms down: any NTP estimate sees the clock 1 ms further than it is
  let sumFloor = 0, sumMean = 0;
  const trials = 40;
  for (let seed = 1; seed <= trials; seed++) {
    const e = exchanges(64, { up: 20e-3, down: 22e-3, ju: 2e-3, jd: 2e-3, x0: 0, freq: 0, seed });
    const fit = floorFit(e.t, e.offset, e.delay)!;
    sumFloor += (fit.intercept - 1e-3) ** 2;
    sumMean += (e.offset.reduce((a, b) => a + b, 0) / e.offset.length - 1e-3) ** 2;
  }
  const rmsFloor = Math.sqrt(sumFloor / trials), rmsMean = Math.sqrt(sumMean / trials);
  // the plain mean of 64 offsets with 2 ms jitter each way errs by ~180 µs RMS
  assert.ok(rmsFloor < rmsMean / 2, `floor ${rmsFloor} mean ${rmsMean}`);
});

Deno.test("floorFit: jitter all on one side biases the offsets but not the floors", () => {
  const e = exchanges(64, {
    up: 100e-6,
    down: 100e-6,
    ju: 0,
    jd: 50e-6,
    x0: 3e-3,
    freq: -1e-6,
    seed: 7,
  });
  const meanBias = e.offset.reduce((a, b) => a + b, 0) / e.offset.length -
    (3e-3 + -1e-6 * (e.t.reduce((a, b) => a + b, 0) / e.t.length));
  assert.ok(meanBias > 20e-6, `offsets are biased by half the mean queueing: ${meanBias}`);
  const fit = floorFit(e.t, e.offset, e.delay)!;
  close(fit.intercept, 3e-3, 2e-6, "offset at 0");
});

function asSamples(e: { t: number[]; offset: number[]; delay: number[] }): Sample[] {
  return e.t.map((ti, i) => ({
    time: T0 + BigInt(ti + 10_000) * S,
    offset: e.offset[i]!,
    peerDelay: e.delay[i]!,
    peerDispersion: 1e-6,
    rootDelay: 0,
    rootDispersion: 10e-6,
    stratum: 1,
    leap: 0,
  }));
}

Deno.test("SourceStats with floors: closer to the offset than the regression on queued paths", () => {
  let errFloors = 0, errPlain = 0;
  const trials = 100;
  for (let seed = 1; seed <= trials; seed++) {
    const e = exchanges(64, {
      up: 100e-6,
      down: 100e-6,
      ju: 10e-6,
      jd: 10e-6,
      x0: 2e-3,
      freq: 3e-6,
      seed,
    });
    const a = new SourceStats({ name: "a", floors: true });
    const b = new SourceStats({ name: "b" });
    for (const s of asSamples(e)) {
      a.accumulate(s);
      b.accumulate(s);
    }
    errFloors += (a.estimate()!.offset - 2e-3) ** 2;
    errPlain += (b.estimate()!.offset - 2e-3) ** 2;
  }
  // RMS error of the offset at the newest sample over 100 paths: about 0.42 against 0.69 µs
  const floors = Math.sqrt(errFloors / trials), plain = Math.sqrt(errPlain / trials);
  assert.ok(floors < 0.8 * plain, `floors ${floors} plain ${plain}`);
});

Deno.test("SourceStats with floors: off below FLOOR_MIN_SAMPLES, with a configured asymmetry, and by default", () => {
  const e = exchanges(40, { up: 1e-3, down: 1e-3, ju: 0, jd: 200e-6, x0: 0, freq: 0, seed: 3 });
  const samples = asSamples(e);
  const few = new SourceStats({ name: "few", floors: true });
  const plainFew = new SourceStats({ name: "plainfew" });
  for (const s of samples.slice(0, FLOOR_MIN_SAMPLES - 1)) {
    few.accumulate(s);
    plainFew.accumulate(s);
  }
  assert.equal(few.estimate()!.offset, plainFew.estimate()!.offset);
  const fixed = new SourceStats({ name: "fixed", floors: true, asymmetry: 0 });
  const fixedPlain = new SourceStats({ name: "fixedplain", asymmetry: 0 });
  for (const s of samples) {
    fixed.accumulate(s);
    fixedPlain.accumulate(s);
  }
  assert.equal(fixed.estimate()!.offset, fixedPlain.estimate()!.offset);
  const both = exchanges(40, {
    up: 1e-3,
    down: 1e-3,
    ju: 20e-6,
    jd: 20e-6,
    x0: 0,
    freq: 0,
    seed: 3,
  });
  const plain = new SourceStats({ name: "plain" });
  const on = new SourceStats({ name: "on", floors: true });
  for (const s of asSamples(both)) {
    plain.accumulate(s);
    on.accumulate(s);
  }
  assert.notEqual(on.estimate()!.offset, plain.estimate()!.offset);
  // frequency and its uncertainty stay the regression's
  assert.equal(on.estimate()!.frequency, plain.estimate()!.frequency);
  assert.equal(on.estimate()!.offsetSd, plain.estimate()!.offsetSd);
});

Deno.test("SourceStats with floors: one timestamp far below a floor cannot move the estimate beyond the guard", () => {
  const e = exchanges(32, {
    up: 100e-6,
    down: 100e-6,
    ju: 10e-6,
    jd: 10e-6,
    x0: 0,
    freq: 0,
    seed: 5,
  });
  // one reply whose timestamps claim it arrived 1 ms before it could have
  e.offset[16] = e.offset[16]! - 1e-3;
  e.delay[16] = e.delay[16]! - 2e-3;
  const on = new SourceStats({ name: "on", floors: true });
  const plain = new SourceStats({ name: "plain" });
  for (const s of asSamples(e)) {
    on.accumulate(s);
    plain.accumulate(s);
  }
  const p = plain.estimate()!;
  // the floors alone would follow that point far beyond the regression's uncertainty
  const guard = floorGuard(p.offsetSd, e.delay);
  const alone = floorFit(e.t, e.offset, e.delay)!;
  assert.ok(Math.abs(alone.intercept - p.offset) > guard, `${alone.intercept} ${guard}`);
  assert.ok(Math.abs(on.estimate()!.offset - p.offset) <= guard + 1e-15);
  // the guard: FLOOR_GUARD standard errors plus half of the median minus the 10th percentile
  // of the delays (~10 µs here: the outlier's short delay does not widen it)
  assert.ok(guard > FLOOR_GUARD * p.offsetSd && guard < FLOOR_GUARD * p.offsetSd + 20e-6);
  // delays 1..11 ms: median 6 ms, 10th percentile 2 ms
  const delays = [11, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((x) => x * 1e-3);
  assert.ok(Math.abs(floorGuard(1e-6, delays) - (FLOOR_GUARD * 1e-6 + 2e-3)) < 1e-15);
});
