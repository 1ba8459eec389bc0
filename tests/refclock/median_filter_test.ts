import assert from "node:assert/strict";
import { MedianFilter } from "../../lib/refclock/median_filter.ts";

const S = 1_000_000_000n;

Deno.test("median filter: drops the 40 % furthest from the median and averages the rest", () => {
  const f = new MedianFilter(64);
  // offsets 1..10 us at t = 0..9 s, plus one outlier: n = 10, keep 6.
  const offsets = [5, 1, 6, 4, 100, 5, 7, 3, 6, 5].map((u) => u * 1e-6);
  offsets.forEach((o, i) => f.add({ time: BigInt(i) * S, offset: o, dispersion: 1e-6 }));
  const out = f.output()!;
  // median 5 us; the closest six: 5 (t0), 5 (t5), 5 (t9), 6 (t2), 6 (t8), 4 (t3)
  assert.equal(out.samples, 6);
  assert.equal(out.time, (0n + 5n + 9n + 2n + 8n + 3n) * S / 6n + 0n);
  assert.ok(Math.abs(out.offset - 31e-6 / 6) < 1e-15);
  const mean = 31 / 6;
  const sd = Math.sqrt(
    ([5, 5, 5, 6, 6, 4].reduce((a, u) => a + (u - mean) ** 2, 0)) / 5,
  ) * 1e-6;
  assert.ok(Math.abs(out.dispersion - (1e-6 + sd)) < 1e-15);
  assert.equal(f.size, 0, "emptied after a poll");
});

Deno.test("median filter: needs 4 samples per poll, or a full filter below 4", () => {
  const f = new MedianFilter(64);
  for (let i = 0; i < 3; i++) f.add({ time: BigInt(i) * S, offset: 0, dispersion: 0 });
  assert.equal(f.output(), null);
  const g = new MedianFilter(2);
  g.add({ time: 0n, offset: 1e-3, dispersion: 0 });
  assert.equal(g.output(), null);
  g.add({ time: 0n, offset: 1e-3, dispersion: 0 });
  g.add({ time: S, offset: 3e-3, dispersion: 0 });
  const out = g.output()!; // keeps the newest 2: n = 2, keep 2
  assert.equal(out.samples, 2);
  assert.equal(out.offset, 2e-3);
  assert.equal(out.time, S / 2n);
});

Deno.test("median filter: keeps only the newest `length` samples", () => {
  const f = new MedianFilter(4);
  for (let i = 0; i < 10; i++) f.add({ time: BigInt(i) * S, offset: i, dispersion: 0 });
  assert.equal(f.size, 4);
});

Deno.test("median filter: clock changes move stored samples", () => {
  const f = new MedianFilter(1);
  f.add({ time: 10n * S, offset: 1e-3, dispersion: 0 });
  f.correctForClockChange({ time: 0n, doffset: -0.5, dfreq: 0 });
  const out = f.output()!;
  assert.equal(out.offset, 1e-3 - 0.5);
  assert.equal(out.time, 10n * S - S / 2n);
});
