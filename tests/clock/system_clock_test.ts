import assert from "node:assert/strict";
import { SystemClock } from "../../lib/clock/system_clock.ts";
import {
  ADJ_ESTERROR,
  ADJ_FREQUENCY,
  ADJ_MAXERROR,
  ADJ_NANO,
  ADJ_SETOFFSET,
  ADJ_STATUS,
  ADJ_TICK,
  emptyTimex,
  STA_DEL,
  STA_INS,
  STA_NANO,
  STA_PLL,
  STA_UNSYNC,
  type Timex,
} from "../../ffi/timex.ts";

/** A fake kernel: records every adjtimex call; time is set by the test. */
function fakeSystem(initial: Partial<Timex> = {}) {
  const calls: Timex[] = [];
  const kernel: Timex = { ...emptyTimex(), tick: 10000, status: STA_UNSYNC | STA_NANO, ...initial };
  const clock = { t: 1_000_000_000_000n };
  const adjtimex = (tx: Timex) => {
    calls.push(structuredClone(tx));
    return { state: 0, tx: { ...kernel } };
  };
  return { calls, clock, adjtimex, now: () => clock.t };
}

const modesOf = (calls: Timex[]) => calls.map((c) => c.modes);

Deno.test("SystemClock: the constructor only reads and takes the kernel's frequency", () => {
  const f = fakeSystem({ freq: -5 * 65536, tick: 10001 });
  const c = new SystemClock(f);
  assert.deepEqual(modesOf(f.calls), [0]);
  assert.equal(c.readFrequency(), -95); // tick +1 µs = 100 ppm faster, freq -5 ppm
  assert.equal(c.maxFrequency, 100000);
});

Deno.test("SystemClock: setFrequency writes ADJ_FREQUENCY as -ppm * 65536 within ±50 ppm", () => {
  const f = fakeSystem();
  const c = new SystemClock(f);
  f.calls.length = 0;
  assert.equal(c.setFrequency(12.5), 12.5);
  assert.deepEqual(f.calls, [{ ...emptyTimex(), modes: ADJ_FREQUENCY, freq: -819200 }]);
});

Deno.test("SystemClock: large frequencies move the tick, the rest goes to freq", () => {
  const f = fakeSystem();
  const c = new SystemClock(f);
  f.calls.length = 0;
  assert.equal(c.setFrequency(-1234.5), -1234.5);
  assert.deepEqual(f.calls, [
    { ...emptyTimex(), modes: ADJ_FREQUENCY | ADJ_TICK, freq: 34.5 * 65536, tick: 10012 },
  ]);
  f.calls.length = 0;
  c.setFrequency(-1200);
  assert.deepEqual(f.calls, [{ ...emptyTimex(), modes: ADJ_FREQUENCY, freq: 0 }]);
});

Deno.test("SystemClock: a slew is a frequency offset ended by tick() at the returned time", () => {
  const f = fakeSystem();
  const c = new SystemClock(f);
  c.setFrequency(10);
  f.calls.length = 0;
  c.accumulateOffset(0.001, 0.01); // 10 s at 100 ppm on top of 10 ppm
  // 110 ppm: one µs less tick (100 ppm) and 10 ppm in freq
  assert.deepEqual(f.calls, [
    { ...emptyTimex(), modes: ADJ_FREQUENCY | ADJ_TICK, freq: -10 * 65536, tick: 9999 },
  ]);
  const end = c.tick();
  // raw seconds for 1 ms at 100 ppm slower than the base: 1e-3 * (1 - 110e-6) / 100e-6,
  // rounded up to the next ns
  assert.equal(end, f.clock.t + 9_998_900_001n);
  assert.equal(c.now(), f.clock.t - 1_000_000n);
  f.clock.t = end!;
  f.calls.length = 0;
  assert.equal(c.tick(), null);
  assert.deepEqual(f.calls, [
    { ...emptyTimex(), modes: ADJ_FREQUENCY | ADJ_TICK, freq: -10 * 65536, tick: 10000 },
  ]);
  assert.ok(Math.abs(c.remainingCorrection()) < 1e-12);
  assert.equal(c.now(), f.clock.t);
});

Deno.test("SystemClock: tick() called late accounts for the overshoot with a new slew", () => {
  const f = fakeSystem();
  const c = new SystemClock(f);
  c.accumulateOffset(0.001, 0.01);
  const end = c.tick()!;
  f.clock.t = end + 100_000_000n; // 0.1 s late: ~10 µs too much slewed
  c.tick();
  const remaining = c.remainingCorrection();
  const overshoot = 0.1 * 100e-6 / (1 - 100e-6);
  assert.ok(Math.abs(remaining - -overshoot) < 1e-12, `${remaining}`);
  assert.equal(f.calls.at(-1)!.freq > 0, true); // speeding up to give the 10 µs back
});

Deno.test("SystemClock: step writes ADJ_SETOFFSET|ADJ_NANO with a normalised negative step", () => {
  const f = fakeSystem();
  const c = new SystemClock(f);
  f.calls.length = 0;
  c.step(1.25); // fast by 1.25 s: step back
  c.step(-0.5);
  assert.deepEqual(f.calls, [
    { ...emptyTimex(), modes: ADJ_SETOFFSET | ADJ_NANO, time: { sec: -2, usec: 750_000_000 } },
    { ...emptyTimex(), modes: ADJ_SETOFFSET | ADJ_NANO, time: { sec: 0, usec: 500_000_000 } },
  ]);
});

Deno.test("SystemClock: step includes the slew still in progress and restores the base frequency", () => {
  const f = fakeSystem();
  const c = new SystemClock(f);
  c.accumulateOffset(0.25, 0);
  f.calls.length = 0;
  c.step(1);
  assert.deepEqual(f.calls, [
    { ...emptyTimex(), modes: ADJ_FREQUENCY | ADJ_TICK, freq: 0, tick: 10000 },
    { ...emptyTimex(), modes: ADJ_SETOFFSET | ADJ_NANO, time: { sec: -2, usec: 750_000_000 } },
  ]);
  assert.equal(c.tick(), null);
});

Deno.test("SystemClock: leap and sync status keep the other writable status bits", () => {
  const f = fakeSystem({ status: STA_UNSYNC | STA_PLL | STA_NANO });
  const c = new SystemClock(f);
  f.calls.length = 0;
  c.setSyncStatus(true, 12e-6, 0.0345);
  c.setLeap(1);
  c.setLeap(-1);
  c.setLeap(0);
  c.setSyncStatus(false, 0, 20);
  assert.deepEqual(f.calls, [
    {
      ...emptyTimex(),
      modes: ADJ_STATUS | ADJ_ESTERROR | ADJ_MAXERROR,
      status: STA_PLL,
      esterror: 12,
      maxerror: 34500,
    },
    { ...emptyTimex(), modes: ADJ_STATUS, status: STA_PLL | STA_INS },
    { ...emptyTimex(), modes: ADJ_STATUS, status: STA_PLL | STA_DEL },
    { ...emptyTimex(), modes: ADJ_STATUS, status: STA_PLL },
    {
      ...emptyTimex(),
      modes: ADJ_STATUS | ADJ_ESTERROR | ADJ_MAXERROR,
      status: STA_PLL | STA_UNSYNC,
      esterror: 0,
      maxerror: 16_000_000,
    },
  ]);
});

Deno.test("SystemClock: another process changing the frequency is detected (chrony 4.7)", () => {
  // a kernel that applies ADJ_FREQUENCY/ADJ_TICK, rounding freq as Linux may (to even units)
  const kernel: Timex = { ...emptyTimex(), tick: 10000, status: STA_UNSYNC | STA_NANO };
  const adjtimex = (tx: Timex) => {
    if (tx.modes & ADJ_FREQUENCY) kernel.freq = tx.freq & ~1;
    if (tx.modes & ADJ_TICK) kernel.tick = tx.tick;
    return { state: 0, tx: { ...kernel } };
  };
  let detected = 0;
  const c = new SystemClock({ adjtimex, now: () => 0n, onInterference: () => detected++ });
  c.setFrequency(12.3456);
  c.setFrequency(-7.77);
  c.setFrequency(-1234.5);
  assert.equal(detected, 0); // our own changes, the kernel's rounding included
  kernel.freq += 65536; // someone else: +1 ppm
  c.setFrequency(3);
  assert.equal(detected, 1);
  c.setFrequency(4);
  assert.equal(detected, 1); // ours again
  kernel.tick = 10005;
  c.setFrequency(5);
  assert.equal(detected, 2);
  // without the option nothing extra is read
  kernel.tick = 10000;
  const calls: Timex[] = [];
  const quiet = new SystemClock({
    adjtimex: (tx) => (calls.push(tx), adjtimex(tx)),
    now: () => 0n,
  });
  quiet.setFrequency(1);
  assert.deepEqual(modesOf(calls), [0, ADJ_FREQUENCY]);
});
