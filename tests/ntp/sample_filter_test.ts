import assert from "node:assert/strict";
import type { Sample } from "../../lib/clock/sample.ts";
import { SampleFilter, SampleFilterError } from "../../lib/ntp/sample_filter.ts";

function s(time: bigint, offset: number, delay: number): Sample {
  return {
    time,
    offset,
    peerDelay: delay,
    peerDispersion: 1e-6,
    rootDelay: 0,
    rootDispersion: 0,
    stratum: 2,
    leap: 0,
  };
}

Deno.test("the filter holds samples until N are collected, then starts empty", () => {
  const f = new SampleFilter(3);
  assert.equal(f.add(s(0n, 0, 1e-3)), null);
  assert.equal(f.add(s(1n, 0, 1e-3)), null);
  assert.ok(f.add(s(2n, 0, 1e-3)));
  assert.equal(f.size, 0);
});

Deno.test("the longest-delay 40% are dropped and the median offset of the rest is taken", () => {
  const f = new SampleFilter(5);
  // delays: the two longest (offsets 0.5 and -0.4) are dropped; kept offsets 0.001, 0.002, 0.003
  f.add(s(0n, 0.5, 0.050));
  f.add(s(10n, 0.002, 0.001));
  f.add(s(20n, -0.4, 0.040));
  f.add(s(30n, 0.003, 0.002));
  const out = f.add(s(40n, 0.001, 0.003));
  assert.ok(out);
  assert.equal(out.offset, 0.002);
  assert.equal(out.peerDelay, 0.001);
  assert.equal(out.time, 26n); // mean of 10, 30, 40, floored to the ns
  assert.equal(out.peerDispersion, 0.001); // spread of kept offsets exceeds 1 µs
});

Deno.test("an even count of kept samples averages the two middle offsets", () => {
  const f = new SampleFilter(2);
  f.add(s(0n, 0.001, 0.001));
  const out = f.add(s(0n, 0.003, 0.001));
  assert.equal(out?.offset, 0.002);
});

Deno.test("filter lengths below 1 are rejected", () => {
  assert.throws(() => new SampleFilter(0), SampleFilterError);
  assert.throws(() => new SampleFilter(1.5), SampleFilterError);
});
