import assert from "node:assert/strict";
import { Prng } from "../../lib/clock/prng.ts";
import { DelayQuantile, QUANTILE_MIN_SAMPLES } from "../../lib/ntp/delay_quantile.ts";

/** Fraction of `xs` at or below `q`. */
function below(xs: number[], q: number): number {
  return xs.filter((x) => x <= q).length / xs.length;
}

Deno.test("DelayQuantile settles at the p-quantile of exponential queueing delays", () => {
  for (const p of [0.05, 0.2, 0.5, 0.8, 0.95]) {
    const rng = new Prng(Math.round(p * 100));
    const q = new DelayQuantile(p);
    const fresh: number[] = [];
    for (let i = 0; i < 3000; i++) q.add(200e-6 + rng.exponential(20e-6));
    assert.equal(q.count, 128);
    for (let i = 0; i < 4000; i++) fresh.push(200e-6 + rng.exponential(20e-6));
    const f = below(fresh, q.estimate!);
    assert.ok(Math.abs(f - p) < 0.1, `p ${p}: ${f} of new delays at or below the estimate`);
  }
});

Deno.test("DelayQuantile follows a path whose delay moves, and passes everything at first", () => {
  const rng = new Prng(5);
  const q = new DelayQuantile(0.5);
  for (let i = 0; i < QUANTILE_MIN_SAMPLES - 1; i++) {
    assert.ok(q.accepts(1));
    q.add(1e-3 + rng.exponential(50e-6));
  }
  assert.equal(q.estimate, null);
  for (let i = 0; i < 1000; i++) q.add(1e-3 + rng.exponential(50e-6));
  // median of 1 ms + Exp(50 µs) is 1 ms + 50 µs ln 2
  assert.ok(Math.abs(q.estimate! - (1e-3 + 50e-6 * Math.LN2)) < 10e-6, `${q.estimate}`);
  for (let i = 0; i < 2000; i++) q.add(5e-3 + rng.exponential(50e-6));
  assert.ok(Math.abs(q.estimate! - (5e-3 + 50e-6 * Math.LN2)) < 10e-6, `${q.estimate}`);
  assert.ok(q.accepts(5e-3) && !q.accepts(5.2e-3));
  assert.throws(() => new DelayQuantile(1), RangeError);
});
