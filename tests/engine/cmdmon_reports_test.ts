/**
 * chronyc's reports about the engine (lib/engine/cmdmon_reports.ts) from
 * snapshots made by hand: no engine, clock or daemon behind them.
 */
import assert from "node:assert/strict";
import {
  activityReport,
  NEVER,
  ntpDataReport,
  selectDataReport,
  sourceReport,
  sourceStatsReport,
  trackingReport,
} from "../../lib/engine/cmdmon_reports.ts";
import type {
  NtpSourceSnapshot,
  RefclockSnapshot,
  SystemSnapshot,
} from "../../lib/engine/snapshot.ts";
import type { NtpSourceReport } from "../../lib/ntp/source.ts";
import type { SelectionData, SourceStatsReport } from "../../lib/clock/sourcestats.ts";
import type { TrackingData } from "../../lib/clock/reference.ts";
import { SourceMode, SourceState } from "../../lib/cmdmon/reports.ts";

const S = 1_000_000_000n;
const NOW = 1_000n * S;

const stats: SourceStatsReport = {
  name: "192.0.2.1",
  np: 8,
  nr: 5,
  span: 127.6,
  frequencyPpm: 0.25,
  skewPpm: 0.5,
  offset: 1.5e-4,
  stdDev: 2e-5,
  lastSample: { adjustedOffset: 1.2e-4, measuredOffset: 1.1e-4, error: 3e-3, ago: 16.4 },
};

const selection: SelectionData = {
  offset: 1.5e-4,
  offsetSd: 1e-5,
  rootDelay: 2e-3,
  rootDispersion: 1e-3,
  rootDistance: 2e-3,
  lo: -1.85e-3,
  hi: 2.15e-3,
  stratum: 2,
  leap: 0,
  frequency: 2.5e-7,
  frequencySd: 1e-8,
  skew: 5e-7,
  stdDev: 2e-5,
  samples: 8,
  enoughSamples: true,
  lastSampleTime: NOW - 16n * S - S / 2n,
  firstSampleTime: NOW - 128n * S,
};

const report: NtpSourceReport = {
  address: "192.0.2.1",
  port: 123,
  mode: "client",
  online: true,
  poll: 6,
  reach: 0o377,
  lastRx: NOW - 16n * S,
  lastSample: {
    time: NOW - 16n * S,
    offset: 1.1e-4,
    peerDelay: 1e-3,
    peerDispersion: 2e-5,
    rootDelay: 2e-3,
    rootDispersion: 1e-3,
    stratum: 2,
    leap: 0,
  },
  stratum: 2,
  leap: 0,
  refId: 0xc0000263,
  remotePoll: 6,
  remotePrecision: -24,
  rootDelay: 1e-3,
  rootDispersion: 9e-4,
  referenceTime: NOW - 30n * S,
  localTx: null,
  remoteRx: null,
  remoteTx: null,
  localRx: null,
  responseTime: 1e-5,
  tests: {
    t123: [true, true, true],
    t567: [true, true, true],
    tABCD: [true, true, true, false],
  },
  totalTx: 10,
  totalRx: 9,
  totalValidRx: 9,
  totalGoodRx: 8,
  kod: null,
  pollScore: 0,
  authenticated: true,
  authFailures: 0,
  interleaved: true,
};

function ntp(over: Partial<NtpSourceSnapshot> = {}): NtpSourceSnapshot {
  return {
    kind: "ntp",
    now: NOW,
    id: 3,
    name: "ntp.example",
    address: "192.0.2.1",
    port: 123,
    remotePort: 4123,
    peer: false,
    version: 4,
    poll: 6,
    reach: 0o377,
    online: true,
    inBurst: false,
    authenticated: true,
    select: { prefer: true },
    effectiveSelect: { prefer: true, trust: true },
    status: { state: "combined", letter: "+", mark: "+", score: 0.004, reason: "" },
    statistics: stats,
    offsetSd: 1e-5,
    selection,
    report,
    asymmetry: 0.1,
    ...over,
  };
}

const refclock: RefclockSnapshot = {
  kind: "refclock",
  now: NOW,
  id: 0,
  name: "PPS",
  refId: 0x50505300,
  stratum: 0,
  poll: 4,
  reach: 0o17,
  select: { noselect: true },
  effectiveSelect: { noselect: true },
  status: null,
  statistics: { ...stats, lastSample: null },
  offsetSd: null,
  selection: null,
};

const system: SystemSnapshot = {
  now: NOW,
  selected: { kind: "ntp", id: 7 },
  selectedScore: 0.002,
  lastUpdate: null,
  tracking: null,
};

Deno.test("sources: NTP and refclock rows from snapshots", () => {
  assert.deepEqual(sourceReport(ntp()), {
    address: { family: "inet4", address: "192.0.2.1" },
    poll: 6,
    stratum: 2, // the last sample's
    state: SourceState.UNSELECTED, // combined
    mode: SourceMode.CLIENT,
    flags: 0,
    reachability: 0o377,
    sinceSample: 16,
    origLatestMeas: 1.1e-4,
    latestMeas: 1.2e-4,
    latestMeasErr: 3e-3,
  });
  assert.equal(sourceReport(ntp({ peer: true, address: "2001:db8::1" })).mode, SourceMode.PEER);
  assert.deepEqual(sourceReport(ntp({ address: "2001:db8::1" })).address, {
    family: "inet6",
    address: "2001:db8::1",
  });
  const rc = sourceReport(refclock);
  assert.deepEqual(rc.address, { family: "inet4", address: "80.80.83.0" }); // "PPS" as four bytes
  assert.equal(rc.mode, SourceMode.REF);
  assert.equal(rc.state, SourceState.NONSELECTABLE);
  assert.equal(rc.sinceSample, NEVER);
  assert.equal(rc.reachability, 0o17);
});

Deno.test("sourcestats: refid of the address, or of the refclock without an address", () => {
  const r = sourceStatsReport(ntp());
  assert.equal(r.refId, 0xc0000201);
  assert.equal(r.spanSeconds, 128);
  assert.equal(r.estOffsetErr, 1e-5);
  assert.deepEqual([r.nSamples, r.nRuns, r.sd], [8, 5, 2e-5]);
  const rc = sourceStatsReport(refclock);
  assert.equal(rc.refId, 0x50505300);
  assert.deepEqual(rc.address, { family: "unspec" });
  assert.equal(rc.estOffsetErr, 0);
});

Deno.test("selectdata: state letter, options, age, relative score, limits", () => {
  const r = selectDataReport(ntp(), system);
  assert.equal(r.stateChar, "+");
  assert.equal(r.authentication, 1);
  assert.equal(r.confOptions, 2); // prefer
  assert.equal(r.effOptions, 2 | 4); // prefer, trust (authselectmode)
  assert.equal(r.lastSampleAgo, 17); // 16.5 s rounds up
  assert.equal(r.score, 0.5); // the selected source's 0.002 over our 0.004
  assert.deepEqual([r.loLimit, r.hiLimit, r.leap], [-1.85e-3, 2.15e-3, 0]);
  // before a selection: N for noselect, M (missing samples) otherwise; leap 3 without data
  const rc = selectDataReport(refclock, { ...system, selectedScore: null });
  assert.deepEqual([rc.stateChar, rc.score, rc.leap, rc.authentication], ["N", 1, 3, 0]);
  assert.equal(selectDataReport(ntp({ status: null }), system).stateChar, "M");
});

Deno.test("tracking: from the reference's data; zeros and leap 3 without it", () => {
  const t: TrackingData = {
    refId: 0xc0000201,
    address: "192.0.2.1",
    stratum: 3,
    refTime: NOW,
    systemTime: -1e-6,
    lastOffset: 2e-6,
    rmsOffset: 3e-6,
    frequency: -12.5,
    residualFrequency: 0.01,
    skew: 0.05,
    rootDelay: 2e-3,
    rootDispersion: 1e-3,
    updateInterval: 64,
    leapStatus: "insert",
  };
  const r = trackingReport(t);
  assert.deepEqual(r.address, { family: "inet4", address: "192.0.2.1" });
  assert.deepEqual(
    [r.stratum, r.leapStatus, r.currentCorrection, r.freqPpm, r.lastUpdateInterval],
    [3, 1, -1e-6, -12.5, 64],
  );
  assert.equal(trackingReport({ ...t, leapStatus: "unsynchronised" }).leapStatus, 3);
  const none = trackingReport(null);
  assert.deepEqual([none.refId, none.stratum, none.leapStatus], [0, 0, 3]);
});

Deno.test("activity and ntpdata from snapshots", () => {
  const a = activityReport([
    ntp(),
    ntp({ online: false }),
    ntp({ inBurst: true }),
    refclock,
  ], 2);
  assert.deepEqual(a, { online: 1, offline: 1, burstOnline: 1, burstOffline: 0, unresolved: 2 });
  const d = ntpDataReport(ntp(), {
    localAddress: "192.0.2.100",
    timestamps: { tx: "K", rx: "H", hwTx: 0, hwRx: 4 },
  });
  assert.equal(d.remotePort, 4123); // where requests go (NTS-KE's port), not the configured one
  assert.deepEqual(d.localAddress, { family: "inet4", address: "192.0.2.100" });
  // every test but D passed (test 1 is bit 9, D bit 0); interleaved and authenticated
  assert.equal(d.flags, 0x3fe | 0x4000 | 0x8000);
  assert.deepEqual([d.mode, d.version, d.rxTssChar, d.totalKernelRxTs], [4, 4, 72, 5]);
  const silent = ntpDataReport(ntp({ report: { ...report, totalRx: 0, interleaved: false } }), {
    localAddress: null,
    timestamps: { tx: "K", rx: "K", hwTx: 0, hwRx: 0 },
  });
  assert.deepEqual([silent.mode, silent.version, silent.flags & 0x3ff, silent.txTssChar], [
    0,
    0,
    0,
    0,
  ]);
});
