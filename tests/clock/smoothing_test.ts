import assert from "node:assert/strict";
import { planPieces, Smoothing } from "../../lib/clock/smoothing.ts";

const S = 1_000_000_000n;
const at = (s: number) => BigInt(Math.round(s * 1e9));

function near(a: number, b: number, tol: number, what = "") {
  assert.ok(Math.abs(a - b) <= tol, `${what} ${a} not within ${tol} of ${b}`);
}

Deno.test("smoothing: inactive until activated, all zero", () => {
  const s = new Smoothing({ maxFreqPpm: 400, maxWanderPpm: 0.001, leapOnly: false });
  s.update(0n, 0.1, 0);
  const r = s.report(10n * S);
  assert.deepEqual(r, {
    active: false,
    leapOnly: false,
    offset: 0,
    freqPpm: 0,
    wanderPpm: 0,
    lastUpdateAgo: 0,
    remainingTime: 0,
  });
  assert.equal(s.offsetAt(10n * S), 0);
  assert.equal(s.activate(20n * S), true);
  assert.equal(s.activate(30n * S), false);
  const a = s.report(25n * S);
  assert.equal(a.active, true);
  assert.equal(a.offset, 0);
  assert.equal(a.remainingTime, 0);
  near(a.lastUpdateAgo, 5, 1e-9);
  assert.equal(s.inEffect(25n * S), false);
});

Deno.test("smoothing: chronyd 4.3's figures (offset 0.1 s, 5 ppm, 0.001 ppm/s: 25000 s; +1 ppm: 26100 s)", () => {
  const s = new Smoothing({ maxFreqPpm: 5, maxWanderPpm: 0.001, leapOnly: false });
  s.activate(0n);
  s.update(0n, 0.1, 0);
  let r = s.report(0n);
  near(r.offset, 0.1, 1e-12);
  near(r.wanderPpm, -0.001, 1e-12);
  near(r.remainingTime, 25000, 1e-6);
  // chronyc dfreq 1: the cooked clock runs 1 ppm slower, the served time gains
  s.update(0n, 0, 1e-6);
  r = s.report(0n);
  near(r.freqPpm, 1, 1e-9);
  near(r.remainingTime, 26100, 1e-6);
  assert.equal(s.inEffect(0n), true);
});

Deno.test("smoothing: without the frequency limit, two pieces (chronyd: -0.01 s at +0.002666 ppm: 6321.9 s)", () => {
  const s = new Smoothing({ maxFreqPpm: 400, maxWanderPpm: 0.001, leapOnly: false });
  s.activate(0n);
  s.update(0n, -0.010000020, 0.002666e-6);
  const r = s.report(0n);
  near(r.remainingTime, 6321.9, 0.1);
  near(r.wanderPpm, 0.001, 1e-12);
  // chronyd observed +1.039048 ppm, +7.675 µs: 2518.9 s
  const t = new Smoothing({ maxFreqPpm: 400, maxWanderPpm: 0.001, leapOnly: false });
  t.activate(0n);
  t.update(0n, 7.675e-6, 1.039048e-6);
  near(t.report(0n).remainingTime, 2518.9, 0.1);
});

Deno.test("smoothing: the spline is continuous and ends at zero offset and frequency", () => {
  for (
    const [o, f, m] of [[0.1, 0, 5], [0.1, 1e-6, 5], [-0.3, 2e-5, 400], [1, -3e-4, 50], [
      0,
      1e-6,
      400,
    ]]
  ) {
    const s = new Smoothing({ maxFreqPpm: m!, maxWanderPpm: 0.001, leapOnly: false });
    s.activate(0n);
    s.update(0n, o!, f!);
    const total = s.report(0n).remainingTime;
    assert.ok(total > 0);
    let prev = s.offsetAt(0n);
    const steps = 1000;
    for (let i = 1; i <= steps; i++) {
      const t = at((total * i) / steps);
      const r = s.report(t);
      assert.ok(Math.abs(r.freqPpm) <= Math.max(m!, Math.abs(f!) * 1e6) + 1e-9, "frequency limit");
      assert.ok(Math.abs(r.wanderPpm) <= 0.001 + 1e-12, "wander limit");
      // offset changes by no more than the frequency allows
      const cur = s.offsetAt(t);
      assert.ok(
        Math.abs(cur - prev) <= (Math.max(m!, Math.abs(f!) * 1e6) * 1e-6 * total) / steps + 1e-12,
      );
      prev = cur;
    }
    const end = s.report(at(total + 1));
    assert.equal(end.offset, 0);
    assert.equal(end.freqPpm, 0);
    assert.equal(end.remainingTime, 0);
    // just before the end the offset is already tiny
    near(s.offsetAt(at(total - 1e-3)), 0, 1e-9);
    assert.equal(s.inEffect(at(total + 1)), false);
  }
});

Deno.test("smoothing: a leap second alone takes sqrt(4/wander) (chrony.conf(5): 62500 s at 0.001024)", () => {
  const s = new Smoothing({ maxFreqPpm: 400, maxWanderPpm: 0.001024, leapOnly: true });
  s.activate(0n);
  s.update(0n, 0.5, 1e-6); // ignored with leaponly
  assert.equal(s.report(0n).offset, 0);
  s.leap(10n * S, 1);
  const r = s.report(10n * S);
  near(r.offset, 1, 1e-12);
  near(r.remainingTime, 62500, 1e-6);
  // peak frequency 32 ppm at half time
  near(s.report(at(10 + 31250)).freqPpm, -32, 1e-6);
  assert.equal(r.leapOnly, true);
});

Deno.test("smoothing: a step resets, reset zeroes, clock changes are followed with their signs", () => {
  const s = new Smoothing({ maxFreqPpm: 400, maxWanderPpm: 0.001, leapOnly: false });
  s.activate(0n);
  // accumulateOffset(+0.05): the cooked clock moved back, doffset -0.05
  s.onClockChange({ time: S, dfreq: 0, doffset: -0.05, isStep: false });
  near(s.offsetAt(S), 0.05, 1e-12);
  s.onClockChange({ time: S, dfreq: -1e-6, doffset: 0, isStep: false });
  near(s.report(S).freqPpm, 1, 1e-9);
  s.onClockChange({ time: 2n * S, dfreq: 0, doffset: 0.2, isStep: true });
  assert.equal(s.offsetAt(2n * S), 0);
  s.update(3n * S, 0.01, 0);
  s.reset(4n * S);
  const r = s.report(5n * S);
  assert.equal(r.offset, 0);
  assert.equal(r.remainingTime, 0);
  near(r.lastUpdateAgo, 1, 1e-9);
});

Deno.test("smoothing: planPieces has at most three pieces and none without a correction", () => {
  assert.deepEqual(planPieces(0, 0, 1e-9, 4e-4), []);
  assert.equal(planPieces(0.1, 0, 1e-9, 5e-6).length, 3);
  assert.equal(planPieces(0.1, 0, 1e-9, 4e-4).length, 2);
});
