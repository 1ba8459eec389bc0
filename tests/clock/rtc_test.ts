import assert from "node:assert/strict";
import {
  encodeRtcTime,
  formatRtcFile,
  parseAdjtime,
  parseRtcFile,
  RTC_MAX_SAMPLES,
  rtcLogLine,
  RtcTracker,
} from "../../lib/clock/rtc.ts";
import { decodeRtcTime, rtcTimeToEpoch } from "../../lib/refclock/rtc.ts";
import { RTC_TIME } from "../../ffi/layout.ts";
import { fromUnixSeconds, type Timestamp } from "../../lib/time/timestamp.ts";

const T0 = 1_764_885_600; // 2025-12-04T22:00:00Z

/** System time at which an RTC `fast0 + gain * (rtc - T0)` seconds fast begins second `rtc`. */
function sysAt(rtc: number, fast0: number, gainPpm: number): Timestamp {
  const fast = fast0 + gainPpm * 1e-6 * (rtc - T0);
  return fromUnixSeconds(rtc) - BigInt(Math.round(fast * 1e9));
}

Deno.test("rtcfile: chronyd's one line (flag, RTC epoch, fast %.6f, gain ppm %.3f) both ways", () => {
  const c = { valid: true, refTime: T0, fast: -1.6327364, gainPpm: -107.6234 };
  assert.equal(formatRtcFile(c), `1 ${T0} -1.632736 -107.623\n`);
  assert.deepEqual(parseRtcFile(`1 ${T0} -1.632736 -107.623\n`), {
    valid: true,
    refTime: T0,
    fast: -1.632736,
    gainPpm: -107.623,
  });
  assert.equal(parseRtcFile("0 12 0.5 1.0")!.valid, false);
  assert.equal(parseRtcFile("garbage"), null);
  assert.equal(parseRtcFile("1 x 0.5 1.0"), null);
  assert.equal(parseRtcFile(""), null);
});

Deno.test("hwclockfile: the adjtime file's third line says UTC or LOCAL", () => {
  assert.equal(parseAdjtime("0.0 0 0.0\n0\nUTC\n"), true);
  assert.equal(parseAdjtime("0.0 0 0.0\n0\nLOCAL\n"), false);
  assert.equal(parseAdjtime("0.0 0 0.0\n0\n"), null);
});

Deno.test("RTC tracking: the offset and gain rate of a drifting RTC come out of the samples", () => {
  const t = new RtcTracker();
  assert.equal(t.report().nSamples, 0);
  let last = null;
  for (let i = 0; i < 10; i++) {
    const rtc = T0 + 64 * i;
    // 2.5 s fast at T0, gaining 12.5 ppm; ±0.1 ms of alternating noise
    const noise = (i % 2 === 0 ? 1 : -1) * 1e-4;
    last = t.addSample(rtc, sysAt(rtc, 2.5 + noise, 12.5));
  }
  const r = t.report();
  assert.equal(r.nSamples, 10);
  assert.equal(r.spanSeconds, 576);
  assert.equal(r.refTime, fromUnixSeconds(T0 + 576));
  assert.ok(Math.abs(r.rtcSecondsFast - (2.5 + 12.5e-6 * 576)) < 2e-4, `${r.rtcSecondsFast}`);
  assert.ok(Math.abs(r.rtcGainRatePpm - 12.5) < 1, `${r.rtcGainRatePpm}`);
  assert.ok(r.nRuns >= 2);
  assert.equal(last!.valid, true);
  assert.equal(last!.samples, 10);
  assert.ok(Math.abs(last!.measured - last!.predicted) < 3e-4);
  // prediction forward by the rate
  assert.ok(Math.abs(t.predictFast(T0 + 576 + 100_000) - (2.5 + 12.5e-6 * 100_576)) < 0.1);
});

Deno.test("RTC tracking: too few samples keep the rate from the rtcfile; samples are bounded", () => {
  const t = new RtcTracker({ valid: true, refTime: T0 - 1000, fast: 1, gainPpm: 20 });
  const m = t.addSample(T0, sysAt(T0, 3, 0));
  assert.equal(m.gainPpm, 20);
  assert.equal(t.report().rtcSecondsFast, 3);
  assert.equal(t.report().refTime, fromUnixSeconds(T0));
  for (let i = 1; i < RTC_MAX_SAMPLES + 10; i++) t.addSample(T0 + i * 10, sysAt(T0 + i * 10, 3, 0));
  assert.ok(t.sampleCount <= RTC_MAX_SAMPLES);
  assert.ok(Math.abs(t.report().rtcGainRatePpm) < 1e-3);
});

Deno.test("trimrtc: below a second nothing happens; else whole seconds removed, the rate kept", () => {
  const t = new RtcTracker();
  for (let i = 0; i < 5; i++) t.addSample(T0 + 64 * i, sysAt(T0 + 64 * i, 0.4, 5));
  assert.equal(t.trim(T0 + 300), null); // 0.4 s: no effect
  assert.equal(t.sampleCount, 5);

  const u = new RtcTracker();
  for (let i = 0; i < 5; i++) u.addSample(T0 + 64 * i, sysAt(T0 + 64 * i, 42.3, 5));
  const now = T0 + 300.25;
  // the RTC reads about now + 42.3 s; it is set to the system's nearest second
  assert.equal(u.trim(now), T0 + 300);
  assert.equal(u.sampleCount, 0);
  assert.ok(Math.abs(u.coefficients.gainPpm - 5) < 0.01);
  assert.equal(u.coefficients.fast, -0.25);
  assert.equal(u.coefficients.refTime, T0 + 300);
  assert.equal(u.trim(now + 10), null); // now within a second
});

Deno.test("rtcautotrim: a trim is due when the predicted error exceeds the threshold", () => {
  const t = new RtcTracker();
  for (let i = 0; i < 4; i++) t.addSample(T0 + 64 * i, sysAt(T0 + 64 * i, 20, 0));
  assert.equal(t.needsTrim(T0 + 200, 30), false);
  assert.equal(t.needsTrim(T0 + 200, 10), true);
  assert.equal(t.needsTrim(T0 + 200, 0), false); // 0: off
  assert.equal(new RtcTracker().needsTrim(T0, 1), false); // nothing known
});

Deno.test("RTC_SET_TIME buffer: a struct rtc_time that reads back as the same second", () => {
  const buf = encodeRtcTime(T0 + 59, true);
  assert.equal(buf.length, RTC_TIME.size);
  assert.equal(rtcTimeToEpoch(decodeRtcTime(buf), true), T0 + 59);
  const v = new DataView(buf.buffer);
  assert.equal(v.getInt32(RTC_TIME.wday, true), 4); // a Thursday
  assert.equal(v.getInt32(RTC_TIME.yday, true), 337);
  // local time through the injected localtime
  const local = encodeRtcTime(T0, false, (e) => {
    const d = decodeRtcTime(encodeRtcTime(e + 3600, true));
    return d;
  });
  assert.equal(decodeRtcTime(local).hour, 23);
});

Deno.test("log rtc: one line in the chrony.conf(5) columns", () => {
  const line = rtcLogLine(fromUnixSeconds(T0) + 5_000_000n, {
    measured: -0.03736,
    valid: true,
    predicted: -0.037434,
    gainPpm: -37.948,
    samples: 12,
    runs: 5,
  }, 120);
  assert.equal(
    line,
    "2025-12-04 22:00:00    -0.037360 1    -0.037434    -37.948  12   5  120",
  );
});
