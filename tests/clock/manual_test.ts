import assert from "node:assert/strict";
import { fitAbsoluteDeviation, ManualInput, MAX_MANUAL_SAMPLES } from "../../lib/clock/manual.ts";
import { Reference } from "../../lib/clock/reference.ts";
import { eventMessage } from "../../lib/engine/discipline.ts";
import { SimClock } from "../../lib/clock/sim_clock.ts";
import { addSeconds, NS_PER_SEC, type Timestamp } from "../../lib/time/timestamp.ts";

const close = (a: number, b: number, tol: number) =>
  assert.ok(Math.abs(a - b) <= tol, `${a} != ${b} (±${tol})`);

const T0: Timestamp = 1_800_000_000n * NS_PER_SEC;

Deno.test("fitAbsoluteDeviation: exact line, and one wild point does not move it", () => {
  const x = [-30, -20, -10, 0];
  const fit = fitAbsoluteDeviation(x, x.map((v) => 0.5 + 1e-3 * v));
  close(fit.intercept, 0.5, 1e-12);
  close(fit.slope, 1e-3, 1e-12);
  const wild = fitAbsoluteDeviation([-30, -20, -10, 0], [0.47, 0.48, 7, 0.5]);
  close(wild.intercept, 0.5, 1e-12);
  close(wild.slope, 1e-3, 1e-12);
  assert.deepEqual(fitAbsoluteDeviation([0], [2]), { intercept: 2, slope: 0 });
});

Deno.test("manual: refused when off, too close to the last sample, or insane", () => {
  const m = new ManualInput();
  assert.deepEqual(m.accept(T0, T0), { ok: false, reason: "disabled" });
  m.setEnabled(true);
  assert.deepEqual(m.accept(T0, -5n), { ok: false, reason: "insane" });
  const r = m.accept(T0, addSeconds(T0, -0.25));
  assert.ok(r.ok);
  assert.equal(r.offset, 0.25);
  assert.equal(r.correction, 0.25);
  assert.equal(r.dfreq, 0);
  // observed on chronyd 4.3: a second settime within 1 s is refused (500 Failure)
  assert.deepEqual(m.accept(addSeconds(T0, 0.9), T0), { ok: false, reason: "tooClose" });
  assert.equal(m.list().length, 1);
  m.setEnabled(false);
  assert.equal(m.enabled, false);
  assert.equal(m.list().length, 1, "off keeps the samples");
  m.reset();
  assert.equal(m.list().length, 0);
});

Deno.test("manual: two samples give the frequency; the correction makes the samples agree", () => {
  // a clock 0.2 s fast that gains 100 ppm
  const clock = new SimClock({ start: T0, offset: 0.2, frequencyError: 100, seed: 1 });
  const ref = new Reference(clock);
  const m = new ManualInput({ enabled: true });
  clock.onParameterChange((c) => m.onClockChange(c));

  let r = m.accept(clock.now(), clock.trueTime());
  assert.ok(r.ok);
  close(r.offset, 0.2, 1e-9);
  assert.equal(r.dfreq, 0);
  ref.manualUpdate(r.correction, r.dfreq, false);
  clock.advance(1000);
  const before = clock.trueCookedOffset(); // what the clock gained since (100 ppm × 1000 s)
  close(before, 0.1, 1e-3);
  r = m.accept(clock.now(), clock.trueTime());
  assert.ok(r.ok);
  close(r.dfreq, 100e-6, 1e-8);
  close(r.offset, before, 1e-9);
  const events = ref.manualUpdate(r.correction, r.dfreq, true);
  assert.deepEqual(events.map((e) => e.kind), ["manual"]);
  // the frequency error is now corrected: chrony's sign, +100 ppm ("fast")
  close(clock.readFrequency(), 100, 0.01);
  close(clock.trueFrequencyError() * 1e6, 0, 0.01);
  // both samples, moved with the clock's correction, now sit on zero
  for (const s of m.list()) {
    close(s.slewedOffset, 0, 1e-6);
    close(s.residual, 0, 1e-9);
  }
  assert.equal(m.list()[1]!.origOffset, before);
  const t = ref.trackingData();
  close(t.lastOffset, before, 1e-9);
  close(t.rmsOffset, before, 1e-9);
  close(t.updateInterval, 1000, 1);
});

Deno.test("manual: a wild sample gets the residual; delete fits again; at most 16 kept", () => {
  const m = new ManualInput({ enabled: true });
  let now = T0;
  const offsets = [0.1, 0.1, 5, 0.1];
  let last = null;
  for (const o of offsets) {
    last = m.accept(now, addSeconds(now, -o));
    now = addSeconds(now, 10);
  }
  assert.ok(last?.ok);
  close(last.offset, 0.1, 1e-9);
  close(last.dfreq, 0, 1e-12);
  assert.deepEqual(m.list().map((s) => Math.round(s.residual * 100) / 100), [0, 0, 4.9, 0]);
  assert.equal(m.delete(4), null);
  assert.equal(m.delete(-1), null);
  const d = m.delete(2);
  assert.ok(d?.correction);
  close(d.correction.offset, 0.1, 1e-9);
  assert.equal(m.list().length, 3);
  for (let i = 0; i < 20; i++) {
    m.accept(now, now);
    now = addSeconds(now, 2);
  }
  assert.equal(m.list().length, MAX_MANUAL_SAMPLES);
  while (m.list().length > 1) m.delete(0);
  assert.deepEqual(m.delete(0), { correction: null });
});

Deno.test("reference: manual correction steps by makestep's rule, slews otherwise", () => {
  const clock = new SimClock({ start: T0, offset: 5, seed: 1 });
  const ref = new Reference(clock, { makestep: { threshold: 1, limit: 1 } });
  const e = ref.manualUpdate(5, 0, false);
  assert.deepEqual(e.map((x) => x.kind), ["manual", "clockWrong", "stepped"]);
  close(clock.trueCookedOffset(), 0, 1e-9);
  assert.equal(ref.updates, 1);
  // the limit is used up: slewed now
  clock.step(-3); // clock 3 s slow
  const e2 = ref.manualUpdate(-3, 0, false);
  assert.deepEqual(e2.map((x) => x.kind), ["manual"]);
  close(clock.remainingCorrection(), -3, 1e-6);
  // not synchronised by manual input alone (chronyd 4.3 without `local`)
  assert.equal(ref.synchronised, false);
  assert.equal(ref.trackingData().leapStatus, "unsynchronised");
});

Deno.test("reference: dfreq and doffset combine as chronyd 4.3 does", () => {
  const clock = new SimClock({ start: T0, seed: 1 });
  const ref = new Reference(clock);
  assert.deepEqual(ref.adjustFrequency(10), [{ kind: "deltaFrequency", ppm: 10 }]);
  close(clock.readFrequency(), 10, 1e-9);
  // observed: +10 ppm then dfreq 600000 → 600004 ppm (F + d(1 - F)), before the limit
  ref.adjustFrequency(1000);
  close(clock.readFrequency(), 10 + 1000 * (1 - 10e-6), 1e-9);
  ref.adjustOffset(0.5);
  close(clock.remainingCorrection(), 0.5, 1e-6);
  const big = new Reference(new SimClock({ start: T0, seed: 1 }), { maxDrift: 500 });
  // beyond maxdrift: chronyd 4.3 logs "Frequency 600000.0 ppm exceeds allowed maximum"
  assert.deepEqual(big.adjustFrequency(600000), [
    { kind: "frequencyExceeded", frequency: 600000 },
    { kind: "deltaFrequency", ppm: 600000 },
  ]);
  assert.equal(big.trackingData().frequency, 500);
});

Deno.test("reference: a manual frequency beyond maxdrift is limited and said", () => {
  const ref = new Reference(new SimClock({ start: T0, seed: 1 }), { maxDrift: 500 });
  const e = ref.manualUpdate(0.001, -0.6, true);
  assert.deepEqual(e.map((x) => x.kind), ["manual", "frequencyExceeded"]);
  const ex = e[1] as { kind: "frequencyExceeded"; frequency: number };
  close(ex.frequency, -600000, 1e-3);
  assert.equal(ref.trackingData().frequency, -500);
  assert.equal(eventMessage(ex), "Frequency -600000.0 ppm exceeds allowed maximum");
  // within the limit: nothing said
  assert.deepEqual(ref.manualUpdate(0.001, 1e-4, true).map((x) => x.kind), ["manual"]);
});
