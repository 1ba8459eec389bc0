import assert from "node:assert/strict";
import {
  defaultRefclockName,
  followClock,
  refclockRefId,
  RefclockSource,
} from "../../lib/refclock/source.ts";

const S = 1_000_000_000n;

function source(extra: Partial<ConstructorParameters<typeof RefclockSource>[0]> = {}) {
  return new RefclockSource({
    name: "GPS",
    poll: 2,
    filter: 64,
    offset: 0,
    delay: 1e-9,
    precision: 1e-6,
    ...extra,
  });
}

Deno.test("refclock source: offset option subtracted, delay as peer delay, one sample per poll", () => {
  const rc = source({ offset: 0.5, delay: 0.2, stratum: 1 });
  rc.start(0n);
  // chronyd polls a refclock first at start: nothing collected yet, but it counts as a poll
  assert.equal(rc.nextTimer, 0n);
  assert.equal(rc.onTimer(0n), null);
  assert.deepEqual([rc.reach.polls, rc.reach.value], [1, 0]);
  assert.equal(rc.nextTimer, 4n * S);
  for (let i = 0; i < 4; i++) {
    assert.equal(
      rc.addSample({ time: BigInt(i) * S, offset: 0.5 + 1e-3, leap: 0, pulse: false }),
      null,
    );
  }
  const s = rc.onTimer(4n * S)!;
  assert.ok(Math.abs(s.offset - 1e-3) < 1e-12);
  assert.equal(s.peerDelay, 0.2);
  assert.equal(s.rootDelay, 0);
  assert.equal(s.peerDispersion, 1e-6); // precision, no spread
  assert.equal(s.stratum, 1);
  assert.equal(s.time, 2n * S); // newest three of four: t = 1, 2, 3
  assert.equal(rc.reach.value, 1);
  assert.equal(rc.nextTimer, 8n * S);
  assert.equal(rc.onTimer(8n * S), null, "nothing collected");
  assert.equal(rc.reach.value, 2);
});

Deno.test("refclock source: maxdispersion drops a noisy poll; leap 3 is refused", () => {
  const rc = source({ maxDispersion: 1e-5 });
  rc.start(0n);
  for (const o of [0, 1e-3, 0, 1e-3]) rc.addSample({ time: 0n, offset: o, leap: 0, pulse: false });
  assert.equal(rc.onTimer(4n * S), null);
  assert.equal(
    rc.addSample({ time: 0n, offset: 0, leap: 3, pulse: false }),
    "reference unsynchronised",
  );
});

Deno.test("refclock source: pulses are completed from the lock refclock or the synchronised clock", () => {
  const rc = source({ lock: "NMEA", maxLockAge: 2 });
  const pulse = { time: 10n * S, offset: 0.2003, leap: 0 as const, pulse: true };
  assert.equal(rc.addSample(pulse, { lock: null }), "no lock sample");
  assert.equal(rc.addSample(pulse, { lock: { time: 5n * S, offset: 0.2 } }), "no lock sample");
  assert.equal(
    rc.addSample(pulse, { lock: { time: 10n * S, offset: 0.7 } }),
    "lock sample too far from a pulse",
  );
  // NMEA says the clock is 1.25 s fast: the pulse's 0.2003 becomes 1.2003.
  assert.equal(rc.addSample(pulse, { lock: { time: 9n * S, offset: 1.25 } }), null);
  assert.ok(Math.abs(rc.lastSample!.offset - 1.2003) < 1e-12);

  const free = source({ pps: true });
  assert.equal(free.addSample({ ...pulse, pulse: false }), "not synchronised");
  assert.equal(free.addSample({ ...pulse, offset: 0.9999 }, { synchronised: true }), null);
  assert.ok(Math.abs(free.lastSample!.offset - -0.0001) < 1e-12);
});

Deno.test("refclock names and reference IDs", () => {
  assert.equal(refclockRefId("GPS"), 0x47505300);
  assert.equal(refclockRefId("PPS1"), 0x50505331);
  assert.equal(defaultRefclockName("SOCK", 1), "SOC1");
  assert.equal(defaultRefclockName("SHM", 0), "SHM0");
});

Deno.test("refclock source: width refuses the other edge of a pulse (extpps clocks that stamp both)", () => {
  // 1 PPS, pulses 0.2 s wide: the rising edge at the second, the falling one 0.2 s later.
  // The tolerance becomes min(0.2, 0.8) / 2 = 0.1 s.
  const locked = source({ lock: "NMEA", width: 0.2 });
  const lock = { time: 10n * S, offset: 1.25 + 3e-6 };
  const rising = { time: 10n * S, offset: 0.25 + 3e-6, leap: 0 as const, pulse: true };
  const falling = { time: 10n * S, offset: 0.45 + 3e-6, leap: 0 as const, pulse: true };
  assert.equal(locked.addSample(falling, { lock }), "pulse of the other edge");
  assert.equal(locked.addSample(rising, { lock }), null);
  assert.ok(Math.abs(locked.lastSample!.offset - (1.25 + 3e-6)) < 1e-12);
  // without width the falling edge (0.2 pulse from the lock) is taken for a pulse
  assert.equal(source({ lock: "NMEA" }).addSample(falling, { lock }), null);
  // completed from the synchronised local clock: 2 µs after the second is the
  // rising edge, 0.2 s after it the falling one
  const free = source({ width: 0.2 });
  const near = { time: 20n * S, offset: 2e-6, leap: 0 as const, pulse: true };
  assert.equal(
    free.addSample({ ...near, offset: 0.200002 }, { synchronised: true }),
    "pulse of the other edge",
  );
  assert.equal(free.addSample(near, { synchronised: true }), null);
  assert.equal(free.lastSample!.offset, 2e-6);
  // a 5 Hz signal with 20 ms pulses: tolerance 10 ms
  const fast = source({ rate: 5, width: 0.02 });
  assert.equal(
    fast.addSample({ ...near, offset: 0.2 + 0.015 }, { synchronised: true }),
    "pulse of the other edge",
  );
  assert.equal(fast.addSample({ ...near, offset: 0.2 + 0.005 }, { synchronised: true }), null);
  assert.ok(Math.abs(fast.lastSample!.offset - 0.005) < 1e-12);
});

Deno.test("refclock local: samples unsynchronised (never selected), the clock follows changes", () => {
  const plain = source();
  plain.start(0n);
  const feed = (rc: RefclockSource) => {
    for (let i = 0; i < 4; i++) {
      rc.addSample({ time: BigInt(i) * S, offset: 1e-3, leap: 0, pulse: false });
    }
  };
  feed(plain);
  assert.equal(plain.onTimer(4n * S)!.leap, 0);
  assert.equal(
    plain.follow({ refTime: 4n * S, offset: 0, frequency: 0, samples: 9 }, 4n * S),
    null,
  );

  const rc = source({ local: true });
  rc.start(0n);
  feed(rc);
  assert.equal(rc.onTimer(4n * S)!.leap, 3, "a local refclock is an unsynchronised source");
  const est = (t: bigint, offset: number, frequency: number, samples = 5) => ({
    refTime: t,
    offset,
    frequency,
    samples,
  });
  // too few samples, then the starting point: nothing to follow yet
  assert.equal(rc.follow(est(4n * S, 1e-3, 4e-6, 2), 4n * S), null);
  assert.equal(rc.follow(est(4n * S, 1e-3, 4e-6), 4n * S), null);
  // a steady drift is not followed
  const steady = rc.follow(est(8n * S, 1e-3 + 16e-6, 4e-6), 8n * S)!;
  assert.ok(Math.abs(steady.dfreq) < 1e-15 && Math.abs(steady.doffset) < 1e-12);
  // the drift grows by 16 ppm and the offset is 10 µs off the prediction
  const change = rc.follow(est(12n * S, 1e-3 + 32e-6 + 10e-6, 20e-6), 12n * S)!;
  assert.ok(Math.abs(change.dfreq - 16e-6) < 1e-12);
  assert.ok(Math.abs(change.doffset - 10e-6) < 1e-12);
  // the clock is corrected by that (slower by 16 ppm, 10 µs back): the corrected estimate,
  // as the statistics give it after the change, is the point followed
  rc.correctForClockChange({ time: 12n * S, dfreq: -16e-6, doffset: -10e-6 });
  const after = rc.follow(est(16n * S, 1e-3 + 32e-6 + 16e-6, 4e-6), 16n * S)!;
  assert.ok(Math.abs(after.dfreq) < 1e-12, String(after.dfreq));
  assert.ok(Math.abs(after.doffset) < 1e-9, String(after.doffset));
  rc.reset();
  assert.equal(rc.follow(est(20n * S, 0, 0), 20n * S), null, "reset: a new starting point");
});

Deno.test("followClock: frequency moved like chronyc dfreq, offset slewed", () => {
  const calls: string[] = [];
  let freq = 10;
  const clock = {
    readFrequency: () => freq,
    setFrequency: (ppm: number) => {
      calls.push(`freq ${ppm.toFixed(6)}`);
      return (freq = ppm);
    },
    accumulateOffset: (o: number) => calls.push(`slew ${o}`),
  } as unknown as Parameters<typeof followClock>[0];
  followClock(clock, { dfreq: 16e-6, doffset: 1e-5 });
  followClock(clock, { dfreq: 0, doffset: 0 });
  assert.deepEqual(calls, [`freq ${(10 + 16 * (1 - 10e-6)).toFixed(6)}`, "slew 0.00001"]);
});
