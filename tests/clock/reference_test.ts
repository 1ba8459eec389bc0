import assert from "node:assert/strict";
import { LOCAL_REFERENCE_ID, Reference, type ReferenceEvent } from "../../lib/clock/reference.ts";
import { SimClock } from "../../lib/clock/sim_clock.ts";
import { truthUpdate } from "./fixtures.ts";
import { fromSecNsec } from "../../lib/time/timestamp.ts";

const close = (a: number, b: number, tol: number) =>
  assert.ok(Math.abs(a - b) <= tol, `${a} != ${b} (±${tol})`);

const kinds = (events: ReferenceEvent[]) => events.map((e) => e.kind);

Deno.test("Reference: a constant +100 ppm error with 0.1 s offset converges below 1 µs", () => {
  const clock = new SimClock({
    start: 0n,
    offset: 0.1,
    frequencyError: 100,
    wander: 1e-9,
    seed: 3,
  });
  const ref = new Reference(clock, { makestep: { threshold: 1, limit: 3 } });
  for (let i = 0; i < 20; i++) {
    ref.update(truthUpdate(clock));
    clock.advance(16);
  }
  for (let i = 0; i < 20; i++) {
    ref.update(truthUpdate(clock));
    clock.advance(16);
    assert.ok(Math.abs(clock.trueOffset()) < 1e-6, `offset ${clock.trueOffset()} at ${i}`);
  }
  close(clock.trueFrequencyError(), 0, 1e-7); // what the wander moved since the last update
  close(ref.trackingData().frequency, 100, 0.05);
});

Deno.test("Reference: the first update applies the full frequency, later ones by skew weights", () => {
  const clock = new SimClock({ start: 0n, frequencyError: 10, seed: 1 });
  const ref = new Reference(clock);
  ref.update(truthUpdate(clock, { offset: 0, frequency: 10e-6, skew: 1e-6 }));
  // gaining 10 ppm: (1 + 10e-6)(1 - c) = 1
  const c0 = 1 - 1 / (1 + 10e-6);
  close(clock.readFrequency(), c0 * 1e6, 1e-9);
  // equal skews: half of the new residual is applied
  ref.update(truthUpdate(clock, { offset: 0, frequency: 2e-6, skew: 1e-6 }));
  const c1 = 1 - (1 - c0) / (1 + 1e-6);
  close(clock.readFrequency(), c1 * 1e6, 1e-9);
  const td = ref.trackingData();
  close(td.residualFrequency, 1, 1e-9);
  close(td.skew, Math.sqrt(0.5e-12 + 0.25 * 4e-12) * 1e6, 1e-9);
});

Deno.test("Reference: an update far less certain than the estimate does not discard its weight", () => {
  // issue 17: the updates a source's regression gives across its server's 5 ms step (simulator,
  // lan path, 1 s polls): hundreds of ppm with a skew of hundreds of ppm, below maxupdateskew.
  const clock = new SimClock({ start: 0n, seed: 1 });
  const ref = new Reference(clock);
  for (let i = 0; i < 10; i++) {
    ref.update(truthUpdate(clock, { offset: 0, frequency: 0, skew: 0.03e-6 }));
    clock.advance(1);
  }
  const before = clock.readFrequency();
  const across = [[-54, 178], [-413, 434], [-1094, 461], [-908, 291], [-887, 249]];
  for (const [f, skew] of across) {
    ref.update(truthUpdate(clock, { offset: 0, frequency: f! * 1e-6, skew: skew! * 1e-6 }));
    clock.advance(1);
    // the estimate keeps (about) its own skew instead of taking the update's
    assert.ok(ref.trackingData().skew < 5, `skew ${ref.trackingData().skew} ppm`);
  }
  // each moved the frequency by about f * (0.03 / skew)^2: well under 0.1 ppm in all
  close(clock.readFrequency(), before, 0.1);
});

Deno.test("Reference: maxupdateskew leaves the frequency alone", () => {
  const clock = new SimClock({ start: 0n, frequencyError: 10, seed: 1 });
  const ref = new Reference(clock, { maxUpdateSkew: 100 });
  const events = ref.update(truthUpdate(clock, { frequency: 10e-6, skew: 200e-6 }));
  assert.equal(clock.readFrequency(), 0);
  assert.deepEqual(events[0], { kind: "skewIgnored", skew: 200 });
  // tracking.log: no frequency estimate yet, so chronyd's skew before any (1000000 ppm)
  const log = events.at(-1);
  assert.ok(log?.kind === "tracking");
  assert.equal(log.entry.frequency, 0);
  assert.equal(log.entry.skew, 1e6);
});

Deno.test("Reference: maxdrift limits the frequency", () => {
  const clock = new SimClock({ start: 0n, seed: 1 });
  const ref = new Reference(clock, { maxDrift: 50 });
  ref.update(truthUpdate(clock, { offset: 0, frequency: 200e-6, skew: 1e-6 }));
  assert.equal(clock.readFrequency(), 50);
});

Deno.test("Reference: makestep steps once when over the threshold within the limit, not after", () => {
  const clock = new SimClock({ start: 0n, offset: 2, seed: 1 });
  const ref = new Reference(clock, { makestep: { threshold: 1, limit: 2 } });
  const e1 = ref.update(truthUpdate(clock));
  assert.deepEqual(e1.slice(0, 2), [
    { kind: "clockWrong", correction: -2, adjustmentStarted: false },
    { kind: "stepped", correction: -2 },
  ]);
  assert.equal(clock.trueOffset(), 0);
  clock.advance(10);
  assert.equal(ref.updates, 1);
  // second update: 0.5 s, under the threshold: slewed
  clock.step(-0.5);
  const e2 = ref.update(truthUpdate(clock));
  assert.deepEqual(kinds(e2), ["tracking"]);
  close(clock.remainingCorrection(), 0.5, 1e-6);
  clock.advance(100);
  // third update: 3 s, over the threshold but past the limit: slewed and logged
  clock.step(-3);
  const e3 = ref.update(truthUpdate(clock));
  assert.deepEqual(e3[0], { kind: "clockWrong", correction: -3, adjustmentStarted: true });
  assert.deepEqual(kinds(e3), ["clockWrong", "tracking"]);
  close(clock.remainingCorrection(), 3, 1e-6);
  close(clock.trueOffset(), 3, 1e-6);
});

Deno.test("Reference: makestep with limit -1 steps at any update", () => {
  const clock = new SimClock({ start: 0n, seed: 1 });
  const ref = new Reference(clock, { makestep: { threshold: 0.1, limit: -1 } });
  for (let i = 0; i < 5; i++) {
    ref.update(truthUpdate(clock));
    clock.advance(64);
  }
  clock.step(-0.2);
  assert.deepEqual(kinds(ref.update(truthUpdate(clock))), ["clockWrong", "stepped", "tracking"]);
});

Deno.test("Reference: maxchange ignores large offsets after start, then asks to exit", () => {
  const clock = new SimClock({ start: 0n, offset: 5, seed: 1 });
  const ref = new Reference(clock, { maxchange: { offset: 1, start: 1, ignore: 2 } });
  // the first update is before `start`: accepted
  assert.deepEqual(kinds(ref.update(truthUpdate(clock))), ["clockWrong", "tracking"]);
  clock.advance(100);
  clock.step(-2);
  const big = truthUpdate(clock, { offset: 2, frequency: 0 });
  assert.deepEqual(ref.update(big), [{ kind: "offsetIgnored", offset: 2 }]);
  assert.deepEqual(ref.update(big), [{ kind: "offsetIgnored", offset: 2 }]);
  assert.deepEqual(ref.update(big), [{ kind: "exit", offset: 2 }]);
  assert.equal(ref.updates, 1);
  assert.deepEqual(kinds(ref.update({ ...big, offset: 0.5 })), ["tracking"]);
});

Deno.test("Reference: tracking data after an update, root dispersion grows with time", () => {
  const clock = new SimClock({ start: fromSecNsec(1_700_000_000, 0), seed: 1 });
  const ref = new Reference(clock, { maxClockError: 1 });
  const events = ref.update(
    truthUpdate(clock, { offset: 0.001, frequency: 5e-6, skew: 2e-6, offsetSd: 1e-4 }),
  );
  const td = ref.trackingData();
  assert.equal(td.refId, 0xc0000201);
  assert.equal(td.address, "192.0.2.1");
  assert.equal(td.stratum, 2);
  assert.equal(td.refTime, fromSecNsec(1_699_999_999, 999_000_000));
  close(td.systemTime, -0.001, 1e-12); // 1 ms fast, still to be slewed: chrony's sign is negative
  assert.equal(td.lastOffset, 0.001);
  close(td.rmsOffset, 0.001, 1e-15);
  close(td.frequency, (1 - 1 / (1 + 5e-6)) * 1e6, 1e-9);
  assert.equal(td.residualFrequency, 0);
  close(td.skew, 2, 1e-12);
  assert.equal(td.rootDelay, 0.002);
  assert.equal(td.rootDispersion, 0.001);
  assert.equal(td.updateInterval, 0);
  assert.equal(td.leapStatus, "normal");
  const later = ref.trackingData(td.refTime + 100_000_000_000n);
  close(later.rootDispersion, 0.001 + 100 * (2e-6 + 1e-6), 1e-15);
  const log = events.at(-1);
  assert.ok(log?.kind === "tracking");
  // tracking.log: nothing was left from before the first update; Max. error is the
  // unsynchronised start's (root delay 1 s / 2 + root dispersion 1 s), as chronyd 4.3 and 4.8 log
  close(log.entry.remainingCorrection, 0, 1e-15);
  assert.equal(log.entry.maxError, 1.5);
  close(log.entry.skew, 2, 1e-12);
  assert.equal(log.entry.combined, 1);
  assert.deepEqual(clock.kernelSyncStatus(), { synced: true, estError: 1e-4, maxError: 0.002 });
  // the next update: the remainder still slewing, and the previous root values grown until now
  clock.advance(0.05);
  const now = clock.now();
  const left = -clock.remainingCorrection();
  assert.ok(left < -1e-4, `${left}`); // still fast: chrony's sign is negative
  const grown = ref.trackingData(now).rootDispersion;
  const next = ref.update(truthUpdate(clock, { refTime: now, offset: 0.0005, skew: 2e-6 }));
  const second = next.at(-1);
  assert.ok(second?.kind === "tracking");
  close(second.entry.remainingCorrection, left, 1e-9);
  close(second.entry.maxError, 0.0005 + Math.abs(left) + 0.002 / 2 + grown, 1e-9);
});

Deno.test("Reference: unsynchronised without local shows stratum 0; local reference takes over", () => {
  const clock = new SimClock({ start: 0n, seed: 1 });
  const plain = new Reference(clock);
  assert.equal(plain.trackingData().leapStatus, "unsynchronised");
  assert.equal(plain.trackingData().stratum, 0);
  // never synchronised: 1 s root delay and dispersion, as chronyd's tracking shows
  assert.equal(plain.trackingData().rootDelay, 1);
  assert.equal(plain.trackingData().rootDispersion, 1);
  const local = new Reference(clock, { local: { stratum: 10, orphan: false, distance: 3 } });
  assert.equal(local.trackingData().refId, LOCAL_REFERENCE_ID);
  assert.equal(local.trackingData().stratum, 10);
  assert.equal(local.trackingData().leapStatus, "normal");
  local.update(truthUpdate(clock, { skew: 1e-5 }));
  assert.equal(local.trackingData().refId, 0xc0000201);
  local.setUnsynchronised();
  assert.equal(clock.kernelSyncStatus().synced, false);
  // root distance 0.001 + 0.001 + t * (10 + 1) ppm reaches 3 s after ~272545 s
  assert.equal(local.localActive(clock.now() + 200_000n * 1_000_000_000n), false);
  assert.equal(
    local.trackingData(clock.now() + 200_000n * 1_000_000_000n).leapStatus,
    "unsynchronised",
  );
  assert.equal(local.localActive(clock.now() + 300_000n * 1_000_000_000n), true);
});

const S = 1_000_000_000n;

Deno.test("Reference: local waitunsynced delays the local reference after start and after losing sync", () => {
  // chronyd 4.8 `local stratum 10 waitunsynced 5`: stratum 0 for 5 s, then 7F7F0101 stratum 10
  const clock = new SimClock({ start: 0n, seed: 1 });
  const ref = new Reference(clock, {
    local: { stratum: 10, orphan: false, distance: 3, waitUnsynced: 5 },
  });
  const t0 = clock.now();
  assert.equal(ref.localActive(t0 + 4n * S), false);
  assert.equal(ref.trackingData(t0 + 4n * S).stratum, 0);
  assert.equal(ref.localActive(t0 + 5n * S), true);
  assert.equal(ref.trackingData(t0 + 5n * S).refId, LOCAL_REFERENCE_ID);
  clock.advance(10);
  ref.update(truthUpdate(clock, { skew: 1e-5 }));
  clock.advance(400_000);
  ref.setUnsynchronised(); // distance long past 3 s, but unsynchronised only from now
  const t1 = clock.now();
  assert.equal(ref.localActive(t1 + 4n * S), false);
  assert.equal(ref.localActive(t1 + 5n * S), true);
});

Deno.test("Reference: local waitsynced counts from the last update; distance 0 leaves it alone", () => {
  const clock = new SimClock({ start: 0n, seed: 1 });
  const ref = new Reference(clock, {
    local: { stratum: 10, orphan: false, distance: 0, waitSynced: 100 },
  });
  assert.equal(ref.localActive(), true); // never synchronised, no waitunsynced: at once
  ref.update(truthUpdate(clock));
  const t = clock.now();
  ref.setUnsynchronised();
  assert.equal(ref.localActive(t + 99n * S), false);
  assert.equal(ref.trackingData(t + 99n * S).leapStatus, "unsynchronised");
  assert.equal(ref.localActive(t + 100n * S), true);
});

Deno.test("Reference: local activate needs one update below the activating distance", () => {
  const clock = new SimClock({ start: 0n, seed: 1 });
  const local = { stratum: 10, orphan: false, distance: 0, activate: 0.5 };
  const ref = new Reference(clock, { local });
  assert.equal(ref.localActive(), false); // never synchronised: never activated
  ref.update(truthUpdate(clock, { rootDelay: 0.4, rootDispersion: 0.5 })); // distance 0.7
  ref.setUnsynchronised();
  assert.equal(ref.localActive(), false);
  ref.update(truthUpdate(clock, { rootDelay: 0.2, rootDispersion: 0.1 })); // distance 0.2
  ref.setUnsynchronised();
  assert.equal(ref.localActive(), true);
  // without the option (chrony 4.3): active at once
  assert.equal(new Reference(clock, { local: { ...local, activate: 0 } }).localActive(), true);
});

Deno.test("Reference: leap insertion in system mode arms the kernel on 31 December only", () => {
  const dec31 = fromSecNsec(1483228800 - 3600, 0); // 2016-12-31T23:00:00Z
  const clock = new SimClock({ start: dec31, seed: 1 });
  const ref = new Reference(clock);
  const events = ref.update(truthUpdate(clock, { leap: 1 }));
  assert.deepEqual(events.find((e) => e.kind === "leap"), { kind: "leap", leap: 1 });
  assert.equal(clock.kernelLeap(), 1);
  assert.equal(ref.trackingData().leapStatus, "insert");
  const other = new SimClock({ start: fromSecNsec(1_700_000_000, 0), seed: 1 });
  const ref2 = new Reference(other);
  ref2.update(truthUpdate(other, { leap: 1 }));
  assert.equal(other.kernelLeap(), 0);
  assert.equal(ref2.trackingData().leapStatus, "normal");
});

Deno.test("Reference: leapsecmode step steps the clock back 1 s at midnight", () => {
  const dec31 = fromSecNsec(1483228800 - 100, 0);
  const clock = new SimClock({ start: dec31, seed: 1 });
  const ref = new Reference(clock, { leapSecMode: "step" });
  ref.update(truthUpdate(clock, { leap: 1 }));
  assert.equal(clock.kernelLeap(), 0);
  assert.equal(ref.nextTimer(), fromSecNsec(1483228800, 0));
  assert.deepEqual(ref.onTimer(), []);
  clock.advance(100);
  assert.deepEqual(ref.onTimer(), [{ kind: "leapApplied", leap: 1, mode: "step" }]);
  close(clock.trueOffset(), -1, 1e-9);
  assert.equal(ref.nextTimer(), null);
});

Deno.test("Reference: leapsectz overrides the sources' vote", () => {
  const dec31 = fromSecNsec(1483228800 - 3600, 0);
  const clock = new SimClock({ start: dec31, seed: 1 });
  const ref = new Reference(clock, { leapSecTz: () => 1 });
  ref.update(truthUpdate(clock, { leap: 0 }));
  assert.equal(clock.kernelLeap(), 1);
});

Deno.test("Reference: driftfile values round trip through restoreDrift", () => {
  const clock = new SimClock({ start: 0n, seed: 1 });
  const ref = new Reference(clock);
  ref.restoreDrift(-12.5, 0.25);
  assert.equal(clock.readFrequency(), -12.5);
  assert.deepEqual(ref.driftValues(), { frequency: -12.5, skew: 0.25 });
});

Deno.test("Reference: setMakestep counts its limit from now; setLocal and setMaxUpdateSkew apply", () => {
  const clock = new SimClock({ start: 0n, offset: 0.5, seed: 4 });
  const ref = new Reference(clock);
  // no makestep: a 0.5 s offset is slewed
  assert.ok(!kinds(ref.update(truthUpdate(clock))).includes("stepped"));
  clock.advance(16);
  ref.setMakestep(0.1, 1);
  const ev = kinds(ref.update(truthUpdate(clock, { offset: 0.3 })));
  assert.ok(ev.includes("stepped"), ev.join());
  clock.advance(16);
  // the limit of one update is used up
  assert.ok(!kinds(ref.update(truthUpdate(clock, { offset: 0.3 }))).includes("stepped"));

  const plain = new Reference(clock);
  assert.equal(plain.trackingData().stratum, 0);
  plain.setLocal({ stratum: 7, orphan: false, distance: 1 });
  assert.equal(plain.trackingData().refId, LOCAL_REFERENCE_ID);
  assert.equal(plain.trackingData().stratum, 7);
  plain.setLocal(null);
  assert.equal(plain.trackingData().stratum, 0);

  plain.setMaxUpdateSkew(1);
  // 10 ppm > 1 ppm: the frequency part of the update is ignored
  assert.ok(kinds(plain.update(truthUpdate(clock, { skew: 1e-5 }))).includes("skewIgnored"));
});
