import assert from "node:assert/strict";
import { Reference } from "../../lib/clock/reference.ts";
import { SimClock } from "../../lib/clock/sim_clock.ts";
import { truthUpdate } from "./fixtures.ts";
import { NS_PER_SEC } from "../../lib/time/timestamp.ts";

const T0 = 1_800_000_000n * NS_PER_SEC;

const update = (clock: SimClock) => truthUpdate(clock, { offsetSd: 1e-6, skew: 1e-9 });

Deno.test("fallbackdrift: 2^min s after the last update the first fallback, then the next", () => {
  const clock = new SimClock({ start: T0, frequencyError: 30, seed: 1 });
  const ref = new Reference(clock, { fallbackDrift: { min: 3, max: 5 } });
  for (let i = 0; i < 4; i++) {
    ref.update(update(clock));
    clock.advance(2);
  }
  const learnt = clock.readFrequency();
  assert.ok(Math.abs(learnt - 30) < 0.5, `${learnt}`);
  ref.adjustFrequency(50); // something moves the frequency away after the last update
  assert.deepEqual(ref.fallbackTick(), []); // 2 s since the last update: < 2^3
  clock.advance(7);
  const e = ref.fallbackTick();
  assert.equal(e[0]?.kind, "fallbackDrift");
  assert.equal(e[0]?.kind === "fallbackDrift" && e[0].log2Interval, 3);
  assert.ok(Math.abs(clock.readFrequency() - learnt) < 0.5);
  assert.equal(ref.synchronised, false);
  assert.deepEqual(ref.fallbackTick(), [], "once per interval");
  clock.advance(8);
  assert.equal(ref.fallbackTick()[0]?.kind === "fallbackDrift", true); // 2^4
  clock.advance(100);
  const last = ref.fallbackTick();
  assert.equal(last[0]?.kind === "fallbackDrift" && last[0].log2Interval, 5);
  clock.advance(1000);
  assert.deepEqual(ref.fallbackTick(), [], "no fallback beyond max");
});

Deno.test("fallbackdrift: none without the directive or with a 0 bound", () => {
  for (const fb of [null, { min: 0, max: 4 }, { min: 4, max: 0 }]) {
    const clock = new SimClock({ start: T0, seed: 1 });
    const ref = new Reference(clock, { fallbackDrift: fb });
    ref.update(update(clock));
    clock.advance(1e5);
    assert.deepEqual(ref.fallbackTick(), []);
  }
});
