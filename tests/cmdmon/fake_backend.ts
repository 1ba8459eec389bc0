/**
 * A `CmdmonBackend` with fixed, plausible data for tests: two sources
 * (192.0.2.1 selected, 2001:db8::1 combined), one client, server counters.
 *
 * @example
 * ```ts
 * import { FakeBackend } from "./fake_backend.ts";
 * new FakeBackend().nSources(); // 2
 * ```
 * @module
 */

import type { CmdmonBackend, ControlRequest, Maybe } from "../../lib/cmdmon/handlers.ts";
import {
  type ActivityReport,
  type AuthDataReport,
  type ClientAccessesPage,
  emptyServerStats,
  type NtpDataReport,
  type SelectDataReport,
  type ServerStatsReport,
  type SourceReport,
  type SourceStatsReport,
  type TrackingReport,
} from "../../lib/cmdmon/reports.ts";
import { type CmdAddress, Status, type StatusCode } from "../../lib/cmdmon/wire.ts";

const A: CmdAddress = { family: "inet4", address: "192.0.2.1" };
const B: CmdAddress = { family: "inet6", address: "2001:db8::1" };
const T0 = 1_795_431_457_908_788_426n;

/** Fixed data; records control requests it receives. */
export class FakeBackend implements CmdmonBackend {
  /** Control requests seen, in order. */
  readonly controls: ControlRequest[] = [];
  #addrs = [A, B];
  #index(a: CmdAddress): number {
    return this.#addrs.findIndex((x) => JSON.stringify(x) === JSON.stringify(a));
  }
  nSources(): number {
    return 2;
  }
  sourceData(i: number): Maybe<SourceReport> {
    const address = this.#addrs[i];
    if (!address) return { status: Status.NOSUCHSOURCE };
    return {
      address,
      poll: 6,
      stratum: 2,
      state: i === 0 ? 0 : 5,
      mode: 0,
      flags: 0,
      reachability: 0o377,
      sinceSample: 17 + i,
      origLatestMeas: -0.000123 * (i + 1),
      latestMeas: -0.000121 * (i + 1),
      latestMeasErr: 0.0042,
    };
  }
  tracking(): TrackingReport {
    return {
      refId: 0xc0000201,
      address: A,
      stratum: 3,
      leapStatus: 0,
      refTime: T0,
      currentCorrection: 1.418e-6,
      lastOffset: -4.3e-8,
      rmsOffset: 3.26e-7,
      freqPpm: -0.002,
      residFreqPpm: -0.0001,
      skewPpm: 0.009,
      rootDelay: 0.006222,
      rootDispersion: 0.005438,
      lastUpdateInterval: 64.3,
    };
  }
  sourceStats(i: number): Maybe<SourceStatsReport> {
    const address = this.#addrs[i];
    if (!address) return { status: Status.NOSUCHSOURCE };
    return {
      refId: 0,
      address,
      nSamples: 31,
      nRuns: 17,
      spanSeconds: 1066,
      sd: 2.36e-7,
      residFreqPpm: -0.0004,
      skewPpm: 0.008,
      estOffset: -1e-9,
      estOffsetErr: 2e-7,
    };
  }
  selectData(i: number): Maybe<SelectDataReport> {
    const address = this.#addrs[i];
    if (!address) return { status: Status.NOSUCHSOURCE };
    return {
      refId: 0,
      address,
      stateChar: i === 0 ? "*" : "+",
      authentication: 0,
      leap: 0,
      confOptions: 0,
      effOptions: 0,
      lastSampleAgo: 12,
      score: 1,
      loLimit: -3.3e-6,
      hiLimit: 3.8e-6,
    };
  }
  activity(): ActivityReport {
    return { online: 2, offline: 0, burstOnline: 0, burstOffline: 0, unresolved: 0 };
  }
  serverStats(): ServerStatsReport {
    return { ...emptyServerStats(4), ntpHits: 1234, cmdHits: 73, ntpDrops: 5 };
  }
  clientAccesses(first: number): Maybe<ClientAccessesPage> {
    const clients = first > 0 ? [] : [{
      address: { family: "inet4", address: "192.0.2.77" } as CmdAddress,
      ntpHits: 10,
      nkeHits: 0,
      cmdHits: 0,
      ntpDrops: 1,
      nkeDrops: 0,
      cmdDrops: 0,
      ntpInterval: 6,
      nkeInterval: 127,
      cmdInterval: 127,
      ntpTimeoutInterval: 127,
      lastNtpHitAgo: 30,
      lastNkeHitAgo: 0xffffffff,
      lastCmdHitAgo: 0xffffffff,
    }];
    return { nIndices: 1, nextIndex: 1, clients };
  }
  ntpData(a: CmdAddress): Maybe<NtpDataReport> {
    if (this.#index(a) < 0) return { status: Status.NOSUCHSOURCE };
    return {
      remoteAddress: a,
      localAddress: { family: "inet4", address: "192.0.2.100" },
      remotePort: 123,
      leap: 0,
      version: 4,
      mode: 4,
      stratum: 2,
      poll: 6,
      precision: -25,
      rootDelay: 0.001,
      rootDispersion: 0.002,
      refId: 0x7f7f0101,
      refTime: T0,
      offset: -6.015e-6,
      peerDelay: 2.1565e-5,
      peerDispersion: 5.9e-8,
      responseTime: 9.0624e-5,
      jitterAsymmetry: 0.47,
      flags: 0x3ff,
      txTssChar: 0x4b,
      rxTssChar: 0x4b,
      totalTxCount: 64,
      totalRxCount: 64,
      totalValidCount: 64,
      totalGoodCount: 59,
      totalKernelTxTs: 64,
      totalKernelRxTs: 64,
      totalHwTxTs: 0,
      totalHwRxTs: 0,
    };
  }
  authData(a: CmdAddress): Maybe<AuthDataReport> {
    if (this.#index(a) < 0) return { status: Status.NOSUCHSOURCE };
    return {
      mode: 0,
      keyType: 0,
      keyId: 0,
      keyLength: 0,
      keAttempts: 0,
      lastKeAgo: 0xffffffff,
      cookies: 0,
      cookieLength: 0,
      nak: 0,
    };
  }
  sourceName(a: CmdAddress): Maybe<string> {
    const i = this.#index(a);
    return i < 0 ? { status: Status.NOSUCHSOURCE } : ["ntp1.example.net", "ntp2.example.net"][i]!;
  }
  control(req: ControlRequest): StatusCode {
    this.controls.push(req);
    return Status.SUCCESS;
  }
}
