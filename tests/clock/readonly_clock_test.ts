import assert from "node:assert/strict";
import { ReadOnlyClock } from "../../lib/clock/readonly_clock.ts";
import { SimClock } from "../../lib/clock/sim_clock.ts";
import type { Clock } from "../../lib/clock/clock.ts";

/** Wraps a SimClock and records every method called on it. */
function recording(inner: SimClock): { clock: Clock; calls: string[] } {
  const calls: string[] = [];
  const clock = new Proxy(inner, {
    get(target, prop) {
      const v = Reflect.get(target, prop, target);
      if (typeof v !== "function") return v;
      return (...args: unknown[]) => {
        calls.push(String(prop));
        return (v as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { clock, calls };
}

Deno.test("ReadOnlyClock: never calls the wrapped clock's setters", () => {
  const sim = new SimClock({ start: 0n, offset: 0.5, frequencyError: 50, seed: 1 });
  const { clock, calls } = recording(sim);
  const ro = new ReadOnlyClock(clock);
  ro.setFrequency(50);
  ro.accumulateOffset(0.1, 0);
  ro.step(0.4);
  ro.setLeap(1);
  ro.setSyncStatus(true, 1e-6, 1e-3);
  ro.tick();
  ro.now();
  ro.remainingCorrection();
  assert.deepEqual([...new Set(calls)].sort(), ["rawNow", "readFrequency"]);
  assert.equal(sim.readFrequency(), 0);
  assert.equal(sim.trueOffset(), 0.5);
  assert.equal(sim.kernelLeap(), 0);
  assert.equal(ro.leap, 1);
  assert.deepEqual(ro.syncStatus, { synced: true, estError: 1e-6, maxError: 1e-3 });
});

Deno.test("ReadOnlyClock: the virtual clock is stepped and its frequency corrected", () => {
  const sim = new SimClock({ start: 0n, offset: 0.5, frequencyError: 50, seed: 1 });
  const ro = new ReadOnlyClock(sim);
  ro.step(0.5);
  assert.equal(ro.now(), 0n);
  ro.setFrequency(50);
  sim.advance(1000);
  // virtual rate: (1 + 50e-6)(1 - 50e-6) - 1 = -2.5e-9
  assert.equal(ro.now() - sim.trueTime(), -2500n);
  assert.ok(Math.abs(sim.trueOffset() - (0.5 + 1000 * 50e-6)) < 1e-12);
});
