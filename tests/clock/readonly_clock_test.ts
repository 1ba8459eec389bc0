import assert from "node:assert/strict";
import { ReadOnlyClock } from "../../lib/clock/readonly_clock.ts";
import { SimClock } from "../../lib/clock/sim_clock.ts";
import type { Clock } from "../../lib/clock/clock.ts";
import { diffSeconds } from "../../lib/time/timestamp.ts";

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

Deno.test("ReadOnlyClock: System time keeps the real clock's offset after the virtual slew", () => {
  const sim = new SimClock({ start: 0n, offset: 0, frequencyError: 0, seed: 1 });
  const ro = new ReadOnlyClock(sim);
  // the real clock is 5 ms slow: the discipline slews the virtual copy 5 ms ahead
  ro.accumulateOffset(-0.005, 1);
  assert.ok(Math.abs(ro.systemClockOffset() + 0.005) < 1e-9);
  for (let i = 0; i < 1000; i++) {
    sim.advance(10);
    ro.tick();
  }
  // nearly all slewed away on the virtual copy (remaining ~0, as horae -x showed before)
  assert.ok(Math.abs(ro.remainingCorrection()) < 1e-5, `${ro.remainingCorrection()}`);
  assert.ok(diffSeconds(ro.now(), sim.rawNow()) > 0.00499);
  // the wrapped clock was never corrected: it is still 5 ms slow of the estimate
  assert.ok(Math.abs(ro.systemClockOffset() + 0.005) < 1e-9, `${ro.systemClockOffset()}`);
  ro.step(0.001); // a virtual step back by 1 ms: the real clock is now 4 ms slow of it
  assert.ok(Math.abs(ro.systemClockOffset() + 0.004) < 1e-9, `${ro.systemClockOffset()}`);
});
