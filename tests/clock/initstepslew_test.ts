import assert from "node:assert/strict";
import { Reference } from "../../lib/clock/reference.ts";
import { SimClock } from "../../lib/clock/sim_clock.ts";
import { truthUpdate } from "./fixtures.ts";
import { NS_PER_SEC } from "../../lib/time/timestamp.ts";

const T0 = 1_800_000_000n * NS_PER_SEC;

const update = (clock: SimClock) =>
  truthUpdate(clock, { frequency: 20e-6, frequencySd: 1e-8, skew: 1e-7 });

Deno.test("initstepslew: above the threshold one step, then normal updates", () => {
  const clock = new SimClock({ start: T0, offset: 3, seed: 1 });
  const ref = new Reference(clock);
  ref.setInitStepSlew(1);
  assert.equal(ref.initStepSlewActive, true);
  const e = ref.update(update(clock));
  assert.deepEqual(e, [{ kind: "initialOffset", offset: 3, step: true }, {
    kind: "initStepSlewEnd",
  }]);
  assert.ok(Math.abs(clock.trueCookedOffset()) < 1e-9);
  // only the offset: no frequency change, no update counted, not synchronised
  assert.equal(clock.readFrequency(), 0);
  assert.equal(ref.updates, 0);
  assert.equal(ref.synchronised, false);
  assert.equal(ref.initStepSlewActive, false);
  clock.advance(64);
  const next = ref.update(update(clock));
  assert.ok(next.some((x) => x.kind === "tracking"));
  assert.equal(ref.synchronised, true);
});

Deno.test("initstepslew: below the threshold a slew; null ends the mode without correction", () => {
  const clock = new SimClock({ start: T0, offset: 3, seed: 1 });
  const ref = new Reference(clock);
  ref.setInitStepSlew(20);
  const e = ref.update(update(clock));
  assert.deepEqual(e, [{ kind: "initialOffset", offset: 3, step: false }, {
    kind: "initStepSlewEnd",
  }]);
  assert.ok(Math.abs(clock.remainingCorrection() - 3) < 1e-6);
  const other = new Reference(new SimClock({ start: T0, seed: 1 }));
  other.setInitStepSlew(1);
  other.setInitStepSlew(null);
  assert.equal(other.initStepSlewActive, false);
});
