import assert from "node:assert/strict";
import type { TrackingLogEntry } from "../../lib/clock/reference.ts";
import {
  banner,
  entryText,
  formatExp,
  formatFixed,
  formatLogTime,
  measurementFromReport,
  type MeasurementLogEntry,
  measurementsLine,
  needsBanner,
  refclocksLine,
  selectionLine,
  statisticsFromEstimate,
  statisticsLine,
  trackingLine,
  unresolvedName,
  wantsStatistics,
} from "../../lib/engine/logfiles.ts";
import type { NtpSourceReport } from "../../lib/ntp/source.ts";
import { fromSecNsec, type Timestamp } from "../../lib/time/timestamp.ts";

function close(actual: number, expected: number, tolerance: number): void {
  assert.ok(Math.abs(actual - expected) <= tolerance, `${actual} vs ${expected}`);
}

/** A UTC time with a fraction, which the files truncate. */
function at(y: number, mo: number, d: number, h: number, mi: number, s: number): Timestamp {
  return fromSecNsec(Date.UTC(y, mo - 1, d, h, mi, s) / 1000, 732_000_000);
}

// Banners and lines below are shaped after files chronyd 4.3 wrote as a client
// of another chronyd on loopback (same columns, widths and number formats).

Deno.test("banners are the column names between two rules of the same length", () => {
  const m = banner("measurements").split("\n");
  assert.equal(m.length, 4);
  assert.equal(m[0], "=".repeat(136));
  assert.equal(
    m[1],
    "   Date (UTC) Time     IP Address   L St 123 567 ABCD  LP RP Score    Offset  Peer del. Peer disp.  Root del. Root disp. Refid     MTxRx",
  );
  assert.equal(m[2], m[0]);
  assert.equal(m[3], "");
  assert.equal(
    banner("statistics").split("\n")[1],
    "   Date (UTC) Time     IP Address    Std dev'n Est offset  Offset sd  Diff freq   Est skew  Stress  Ns  Bs  Nr  Asym",
  );
  assert.equal(banner("statistics").split("\n")[0], "=".repeat(116));
  assert.equal(
    banner("tracking").split("\n")[1],
    "   Date (UTC) Time     IP Address   St   Freq ppm   Skew ppm     Offset L Co  Offset sd Rem. corr. Root delay Root disp. Max. error",
  );
  assert.equal(banner("tracking").split("\n")[0], "=".repeat(131));
  assert.equal(
    banner("selection").split("\n")[1],
    "   Date (UTC) Time     IP Address   S EOpts Reach Score Last sample  Low end   High end",
  );
  assert.equal(banner("selection").split("\n")[0], "=".repeat(87));
});

Deno.test("the banner comes before entries 0, N, 2N... and never with logbanner 0", () => {
  const due = [0, 1, 2, 3, 4, 5, 6, 7].filter((i) => needsBanner(i, 3));
  assert.deepEqual(due, [0, 3, 6]);
  assert.deepEqual([0, 1, 32, 64].map((i) => needsBanner(i, 32)), [true, false, true, true]);
  assert.deepEqual([0, 1, 32].map((i) => needsBanner(i, 0)), [false, false, false]);
  assert.equal(
    entryText("selection", "x", { index: 0, logBanner: 32 }),
    banner("selection") + "x\n",
  );
  assert.equal(entryText("selection", "x", { index: 5, logBanner: 32 }), "x\n");
  assert.equal(entryText("selection", "x", { index: 0, logBanner: 0 }), "x\n");
});

Deno.test("numbers are formatted as C printf does", () => {
  assert.equal(formatExp(-2.347e-6, 3, 10), "-2.347e-06");
  assert.equal(formatExp(7.408e-6, 3, 10), " 7.408e-06");
  assert.equal(formatExp(0, 3, 10), " 0.000e+00");
  assert.equal(formatExp(-0, 3, 10), "-0.000e+00");
  assert.equal(formatExp(42.28, 3, 10), " 4.228e+01");
  assert.equal(formatExp(1.5e123, 3), "1.500e+123");
  assert.equal(formatExp(6.1e-4, 1, 7), "6.1e-04");
  assert.equal(formatExp(9.9999, 3), "1.000e+01");
  assert.equal(formatFixed(1e6, 3, 10), "1000000.000");
  assert.equal(formatFixed(-0.112, 3, 10), "    -0.112");
  assert.equal(formatFixed(-0, 3), "-0.000");
  assert.equal(formatFixed(Number.NaN, 3, 5), "  nan");
  assert.equal(formatLogTime(at(2026, 11, 23, 10, 56, 19)), "2026-11-23 10:56:19");
  assert.equal(formatLogTime(0n), "1970-01-01 00:00:00");
});

const measurement: MeasurementLogEntry = {
  time: at(2026, 11, 23, 11, 10, 14),
  address: "127.0.0.1",
  leap: 0,
  stratum: 1,
  tests: { t123: [true, true, true], t567: [true, true, true], tABCD: [true, true, true, true] },
  poll: 0,
  remotePoll: 0,
  score: 0,
  offset: 2.347e-6, // local fast: the column shows theta = -offset
  peerDelay: 7.408e-6,
  peerDispersion: 3.37e-7,
  rootDelay: 0,
  rootDispersion: 0,
  refId: 0x7f7f0101,
  mode: 4,
  interleaved: false,
  txSource: "kernel",
  rxSource: "kernel",
};

Deno.test("measurements line matches chronyd's layout", () => {
  assert.equal(
    measurementsLine(measurement),
    "2026-11-23 11:10:14 127.0.0.1       N  1 111 111 1111   0  0 0.00 -2.347e-06  7.408e-06  3.370e-07  0.000e+00  0.000e+00 7F7F0101 4B K K",
  );
  assert.equal(
    measurementsLine({
      ...measurement,
      address: "203.0.113.15",
      leap: 3,
      stratum: 2,
      tests: {
        t123: [true, false, true],
        t567: [true, true, false],
        tABCD: [false, true, true, true],
      },
      poll: 10,
      remotePoll: 10,
      score: 0.56,
      offset: 4.966e-3,
      peerDelay: 2.296e-1,
      peerDispersion: 1.577e-5,
      rootDelay: 1.615e-1,
      rootDispersion: 7.446e-3,
      refId: 0xcb00717b,
      txSource: "daemon",
    }),
    "2026-11-23 11:10:14 203.0.113.15    ?  2 101 110 0111  10 10 0.56 -4.966e-03  2.296e-01  1.577e-05  1.615e-01  7.446e-03 CB00717B 4B D K",
  );
});

Deno.test("a long address pushes the rest of the line right", () => {
  const line = measurementsLine({ ...measurement, address: "2001:db8::1234:5678" });
  assert.ok(line.startsWith("2026-11-23 11:10:14 2001:db8::1234:5678 N  1 111 "));
});

Deno.test("measurementFromReport takes the report's fields and the sample's", () => {
  const report = {
    address: "127.0.0.1",
    mode: "client",
    poll: 0,
    leap: 0,
    stratum: 1,
    refId: 0x7f7f0101,
    remotePoll: 0,
    rootDelay: 0,
    rootDispersion: 0,
    localRx: measurement.time,
    tests: measurement.tests,
    pollScore: 0,
  } as unknown as NtpSourceReport;
  const entry = measurementFromReport(report, {
    time: 0n,
    offset: 2.347e-6,
    peerDelay: 7.408e-6,
    peerDispersion: 3.37e-7,
    rootDelay: 0,
    rootDispersion: 0,
    stratum: 1,
    leap: 0,
  }, { txSource: "kernel", rxSource: "kernel" });
  assert.equal(measurementsLine(entry), measurementsLine(measurement));
});

Deno.test("statistics line matches chronyd's layout", () => {
  assert.equal(
    statisticsLine({
      time: at(2026, 11, 23, 11, 11, 26),
      address: "127.0.0.1",
      stdDev: 3.371e-7,
      offset: 1.592e-6,
      offsetSd: 2.289e-7,
      frequency: -2.734e-6,
      skew: 1.087e-3,
      stress: 1.4e-3,
      samples: 3,
      start: 0,
      runs: 3,
      asymmetry: 0,
    }),
    "2026-11-23 11:11:26 127.0.0.1        3.371e-07  1.592e-06  2.289e-07 -2.734e-06  1.087e-03 1.4e-03   3   0   3  0.00",
  );
});

Deno.test("statisticsFromEstimate computes the stress from the previous estimate", () => {
  const estimate = {
    refTime: at(2026, 11, 23, 11, 11, 33),
    offset: -9.024e-7,
    offsetSd: 4.389e-7,
    frequency: -1.757e-7,
    frequencySd: 1e-7,
    skew: 4.502e-7,
    stdDev: 9.556e-7,
    samples: 11,
    runs: 6,
    span: 10,
  };
  const previous = { ...estimate, frequency: 4.607e-8, skew: 5.993e-7 };
  const entry = statisticsFromEstimate(estimate, { address: "127.0.0.1", previous });
  assert.equal(
    statisticsLine(entry),
    "2026-11-23 11:11:33 127.0.0.1        9.556e-07 -9.024e-07  4.389e-07 -1.757e-07  4.502e-07 3.7e-01  11   0   6  0.00",
  );
  // Before a regression (none, or fewer than 3 samples): chronyd's frequency 0 and skew 2000 ppm.
  close(statisticsFromEstimate(estimate, { address: "x" }).stress, 1.757e-7 / 2e-3, 1e-15);
  const young = { ...previous, samples: 2 };
  close(
    statisticsFromEstimate(estimate, { address: "x", previous: young }).stress,
    8.785e-5,
    1e-15,
  );
});

Deno.test("statistics: Ns counts the samples the regression dropped, Bs how many (chronyd 4.3)", () => {
  const estimate = {
    refTime: at(2026, 11, 23, 11, 11, 33),
    offset: 1e-6,
    offsetSd: 1e-6,
    frequency: 0,
    frequencySd: 1e-7,
    skew: 1e-6,
    stdDev: 1e-6,
    samples: 9,
    start: 11,
    runs: 7,
    span: 10,
  };
  const entry = statisticsFromEstimate(estimate, { address: "127.0.0.1" });
  assert.equal(entry.samples, 20);
  assert.equal(entry.start, 11);
  assert.ok(statisticsLine(entry).endsWith("  20  11   7  0.00"), statisticsLine(entry));
  // No statistics.log entry before the third sample; dropped samples count towards it.
  assert.equal(wantsStatistics({ ...estimate, samples: 2, start: 0 }), false);
  assert.equal(wantsStatistics({ ...estimate, samples: 3, start: 0 }), true);
  assert.equal(wantsStatistics({ ...estimate, samples: 2, start: 1 }), true);
  const { start: _, ...noStart } = estimate;
  assert.equal(statisticsFromEstimate(noStart, { address: "x" }).start, 0);
});

const tracking: TrackingLogEntry = {
  time: at(2026, 11, 23, 11, 11, 33),
  refId: 0x7f000001,
  address: "127.0.0.1",
  stratum: 2,
  frequency: -0.112,
  skew: 0.538,
  offset: -9.024e-7,
  leap: "normal",
  combined: 1,
  offsetSd: 4.389e-7,
  remainingCorrection: -2.578e-6,
  rootDelay: 3.588e-6,
  rootDispersion: 1.069e-6,
  maxError: 1.124e-5,
};

Deno.test("tracking line matches chronyd's layout", () => {
  assert.equal(
    trackingLine(tracking),
    "2026-11-23 11:11:33 127.0.0.1        2     -0.112      0.538 -9.024e-07 N  1  4.389e-07 -2.578e-06  3.588e-06  1.069e-06  1.124e-05",
  );
});

Deno.test("tracking line while unsynchronised: 0.0.0.0, wide skew, negative zero", () => {
  assert.equal(
    trackingLine({
      ...tracking,
      time: at(2026, 11, 23, 11, 11, 25),
      refId: 0,
      address: null,
      stratum: 0,
      frequency: 0,
      skew: 1e6,
      offset: 0,
      leap: "unsynchronised",
      combined: 0,
      offsetSd: 0,
      remainingCorrection: -0,
      rootDelay: 1,
      rootDispersion: 1,
      maxError: 1.5,
    }),
    "2026-11-23 11:11:25 0.0.0.0          0      0.000 1000000.000  0.000e+00 ?  0  0.000e+00 -0.000e+00  1.000e+00  1.000e+00  1.500e+00",
  );
  assert.ok(trackingLine({ ...tracking, leap: "insert" }).includes(" + "));
  assert.ok(trackingLine({ ...tracking, leap: "delete" }).includes(" - "));
});

Deno.test("tracking line of a refclock names it by its reference ID, as chronyd 4.3", () => {
  const gps = trackingLine({ ...tracking, refId: 0x47505300, address: null, stratum: 1 });
  assert.ok(gps.startsWith("2026-11-23 11:11:33 GPS              1 "), gps);
  const local = trackingLine({ ...tracking, refId: 0x7f7f0101, address: null });
  assert.ok(local.startsWith("2026-11-23 11:11:33 127.127.1.1      2 "), local);
});

Deno.test("selection line matches chronyd's layout", () => {
  const base = {
    time: at(2026, 11, 23, 11, 11, 26),
    name: "127.0.0.1",
    state: "selected" as const,
    options: { prefer: true, trust: true, require: true },
    reach: 0o7,
    score: 1,
    lastSampleAgo: 4.568e-5,
    low: -1.832e-6,
    high: 5.039e-6,
  };
  assert.equal(
    selectionLine(base),
    "2026-11-23 11:11:26 127.0.0.1       * --PTR    7  1.00  4.568e-05 -1.832e-06  5.039e-06",
  );
  assert.equal(
    selectionLine({
      ...base,
      state: "noselect",
      options: { noselect: true },
      reach: 255,
      lastSampleAgo: 0,
      low: 0,
      high: 0,
    }),
    "2026-11-23 11:11:26 127.0.0.1       N -N---  377  1.00  0.000e+00  0.000e+00  0.000e+00",
  );
  assert.equal(
    selectionLine({ ...base, name: unresolvedName(1), state: "unsynchronised", options: {} }),
    "2026-11-23 11:11:26 ID#0000000001   s -----    7  1.00  4.568e-05 -1.832e-06  5.039e-06",
  );
});

Deno.test("refclocks.log: banner and lines as chronyd 4.3 wrote them for a SOCK refclock", () => {
  // Recorded from /usr/sbin/chronyd -x with `refclock SOCK ... refid GPS poll 2` and `log refclocks`.
  const b = banner("refclocks").split("\n");
  assert.equal(b[0], "=".repeat(79));
  assert.equal(
    b[1],
    "   Date (UTC) Time         Refid  DP L P  Raw offset   Cooked offset      Disp.",
  );
  const t = fromSecNsec(Date.UTC(2026, 11, 4, 21, 11, 1) / 1000, 598_776_912);
  assert.equal(
    refclocksLine({
      time: t,
      refId: "GPS",
      dp: 0,
      leap: 0,
      pulse: false,
      rawOffset: -2.25e-6,
      cookedOffset: -2.25e-6,
      dispersion: 2e-8,
    }),
    "2026-12-04 21:11:01.598776 GPS     0 N 0 -2.250000e-06 -2.250000e-06  2.000e-08",
  );
  assert.equal(
    refclocksLine({
      time: fromSecNsec(Date.UTC(2026, 11, 4, 21, 11, 3) / 1000, 425_677_000),
      refId: "GPS",
      dp: 3,
      leap: 1,
      pulse: false,
      rawOffset: 1.5e-6,
      cookedOffset: 1.5e-6,
      dispersion: 2e-8,
    }),
    "2026-12-04 21:11:03.425677 GPS     3 + 0  1.500000e-06  1.500000e-06  2.000e-08",
  );
  assert.equal(
    refclocksLine({
      time: fromSecNsec(Date.UTC(2026, 11, 4, 21, 11, 2) / 1000, 504_479_500),
      refId: "GPS",
      dp: null,
      leap: 1,
      pulse: false,
      rawOffset: 0,
      cookedOffset: -3.75e-7,
      dispersion: 2.652e-6,
    }),
    "2026-12-04 21:11:02.504479 GPS     - + -       -       -3.750000e-07  2.652e-06",
  );
});
