/**
 * The daemon's side of cmdmon: fills chronyc's reports from the running
 * daemon (engine sources and statistics, selection, the reference, the
 * client log) and carries out control requests. A request for something not
 * built gets chronyd's status for it (the handler's default for a missing
 * method, or FAILED here).
 *
 * @example
 * ```ts
 * import { DaemonBackend } from "./cmdmon_backend.ts";
 * declare const state: import("./daemon.ts").DaemonState;
 * const backend = new DaemonBackend(state);
 * backend.tracking();
 * ```
 * @module
 */
import type { CmdmonBackend, ControlRequest, Maybe } from "../cmdmon/handlers.ts";
import type {
  ActivityReport,
  AuthDataReport,
  ClientAccessesPage,
  NtpDataReport,
  SelectDataReport,
  ServerStatsReport,
  SourceReport,
  SourceStatsReport,
  TrackingReport,
} from "../cmdmon/reports.ts";
import { SourceMode, SourceState } from "../cmdmon/reports.ts";
import { type CmdAddress, Status, type StatusCode, UNSPEC } from "../cmdmon/wire.ts";
import type { DaemonState } from "./daemon.ts";
import type { EngineSource } from "./engine.ts";
import { refIdFromAddress } from "../ntp/reference_id.ts";
import { diffSeconds, type Timestamp } from "../time/timestamp.ts";
import type { SelectState } from "../clock/select.ts";

/** Unknown / never, as chronyc's 32-bit "ago" fields carry it. */
const NEVER = 0xffffffff;

function cmdAddress(address: string | null): CmdAddress {
  if (address === null || address === "") return UNSPEC;
  return address.includes(":") ? { family: "inet6", address } : { family: "inet4", address };
}

function sameAddress(a: CmdAddress, address: string): boolean {
  return (a.family === "inet4" || a.family === "inet6") && a.address === address;
}

/** Source state code (candm RPY_SD_ST_*) of a selection state. */
function sourceState(state: SelectState | undefined): number {
  switch (state) {
    case "selected":
      return SourceState.SELECTED;
    case "combined":
      return SourceState.UNSELECTED;
    case "falseticker":
    case "untrusted":
      return SourceState.FALSETICKER;
    case "jittery":
    case "bad-distance":
      return SourceState.JITTERY;
    case "waits-sources":
    case "nonpreferred":
    case "distant":
      return SourceState.SELECTABLE;
    default:
      return SourceState.NONSELECTABLE;
  }
}

/** The cmdmon backend of a running daemon. */
export class DaemonBackend implements CmdmonBackend {
  readonly #d: DaemonState;

  constructor(state: DaemonState) {
    this.#d = state;
  }

  #live(): EngineSource[] {
    return this.#d.engine.sources.filter((s) => !s.removed);
  }

  #now(): Timestamp {
    return this.#d.clock.now();
  }

  nSources(): number {
    return this.#live().length;
  }

  sourceData(index: number): Maybe<SourceReport> {
    const s = this.#live()[index];
    if (!s) return { status: Status.NOSUCHSOURCE };
    const r = s.ntp.report();
    const now = this.#now();
    const st = s.stats.report(now);
    const last = st.lastSample;
    return {
      address: cmdAddress(s.spec.address),
      poll: s.ntp.poll,
      stratum: r.stratum,
      state: sourceState(s.status?.state),
      mode: s.spec.options.kind === "peer" ? SourceMode.PEER : SourceMode.CLIENT,
      flags: 0,
      reachability: r.reach,
      sinceSample: last ? Math.round(last.ago) : NEVER,
      origLatestMeas: last?.measuredOffset ?? 0,
      latestMeas: last?.adjustedOffset ?? 0,
      latestMeasErr: last?.error ?? 0,
    };
  }

  sourceStats(index: number): Maybe<SourceStatsReport> {
    const s = this.#live()[index];
    if (!s) return { status: Status.NOSUCHSOURCE };
    const st = s.stats.report(this.#now());
    const est = s.stats.estimate();
    return {
      refId: refIdFromAddress(s.spec.address),
      address: cmdAddress(s.spec.address),
      nSamples: st.np,
      nRuns: st.nr,
      spanSeconds: Math.round(st.span),
      sd: st.stdDev,
      residFreqPpm: st.frequencyPpm,
      skewPpm: st.skewPpm,
      estOffset: st.offset,
      estOffsetErr: est?.offsetSd ?? 0,
    };
  }

  selectData(index: number): Maybe<SelectDataReport> {
    const s = this.#live()[index];
    if (!s) return { status: Status.NOSUCHSOURCE };
    const now = this.#now();
    const data = s.stats.getSelectionData(now);
    return {
      refId: refIdFromAddress(s.spec.address),
      address: cmdAddress(s.spec.address),
      stateChar: s.status?.letter ?? "N",
      authentication: 0,
      leap: data?.leap ?? 3,
      confOptions: selectOptionBits(s),
      effOptions: selectOptionBits(s),
      lastSampleAgo: data ? Math.max(0, Math.round(diffSeconds(now, data.lastSampleTime))) : NEVER,
      score: s.status?.score ?? 0,
      loLimit: data?.lo ?? 0,
      hiLimit: data?.hi ?? 0,
    };
  }

  tracking(): TrackingReport {
    const t = this.#d.reference.trackingData(this.#now());
    return {
      refId: t.refId,
      address: cmdAddress(t.address),
      stratum: t.stratum,
      leapStatus: t.leapStatus === "normal"
        ? 0
        : t.leapStatus === "insert"
        ? 1
        : t.leapStatus === "delete"
        ? 2
        : 3,
      refTime: t.refTime,
      currentCorrection: t.systemTime,
      lastOffset: t.lastOffset,
      rmsOffset: t.rmsOffset,
      freqPpm: t.frequency,
      residFreqPpm: t.residualFrequency,
      skewPpm: t.skew,
      rootDelay: t.rootDelay,
      rootDispersion: t.rootDispersion,
      lastUpdateInterval: t.updateInterval,
    };
  }

  activity(): ActivityReport {
    let online = 0, offline = 0, burstOnline = 0, burstOffline = 0;
    for (const s of this.#live()) {
      const on = s.ntp.online, burst = s.ntp.inBurst;
      if (burst) on ? burstOnline++ : burstOffline++;
      else on ? online++ : offline++;
    }
    return { online, offline, burstOnline, burstOffline, unresolved: 0 };
  }

  serverStats(): ServerStatsReport {
    const c = this.#d.clientLog.serverStats();
    return {
      version: 4,
      ntpHits: c.ntpHits,
      nkeHits: c.ntsKeHits,
      cmdHits: c.cmdHits,
      ntpDrops: c.ntpDrops,
      nkeDrops: c.ntsKeDrops,
      cmdDrops: c.cmdDrops,
      logDrops: c.logDrops,
      ntpAuthHits: c.ntpAuthHits,
      ntpInterleavedHits: c.ntpInterleavedHits,
      ntpTimestamps: c.ntpTimestamps,
      ntpSpanSeconds: c.ntpSpanSeconds,
      ntpDaemonRxTimestamps: 0,
      ntpDaemonTxTimestamps: 0,
      ntpKernelRxTimestamps: c.ntpHits - c.ntpDrops,
      ntpKernelTxTimestamps: 0,
      ntpHwRxTimestamps: 0,
      ntpHwTxTimestamps: 0,
    };
  }

  clientAccesses(
    first: number,
    options: { nClients: number; minHits: number; reset: boolean },
  ): Maybe<ClientAccessesPage> {
    if (this.#d.config.noClientLog) return { status: Status.INACTIVE };
    const nowS = Number(this.#now()) / 1e9;
    const all = this.#d.clientLog.clients(nowS, {
      minPackets: options.minHits,
      reset: options.reset,
    });
    const page = all.slice(first, first + options.nClients);
    const ago = (x: number | null) => (x === null ? NEVER : Math.round(x));
    const intv = (x: number | null) => (x === null ? 127 : x);
    return {
      nIndices: all.length,
      nextIndex: first + page.length,
      clients: page.map((c) => ({
        address: cmdAddress(c.address),
        ntpHits: c.ntpHits,
        nkeHits: c.ntsKeHits,
        cmdHits: c.cmdHits,
        ntpDrops: c.ntpDrops,
        nkeDrops: c.ntsKeDrops,
        cmdDrops: c.cmdDrops,
        ntpInterval: intv(c.ntpIntervalLog2),
        nkeInterval: intv(c.ntsKeIntervalLog2),
        cmdInterval: intv(c.cmdIntervalLog2),
        ntpTimeoutInterval: intv(c.ntpIntervalLimitedLog2),
        lastNtpHitAgo: ago(c.lastNtpAgo),
        lastNkeHitAgo: ago(c.lastNtsKeAgo),
        lastCmdHitAgo: ago(c.lastCmdAgo),
      })),
    };
  }

  ntpData(address: CmdAddress): Maybe<NtpDataReport> {
    const s = this.#find(address);
    if (!s) return { status: Status.NOSUCHSOURCE };
    const r = s.ntp.report();
    let flags = 0;
    const bits = [...r.tests.t123, ...r.tests.t567, ...r.tests.tABCD];
    bits.forEach((ok, i) => {
      if (ok) flags |= 1 << i;
    });
    const sample = r.lastSample;
    return {
      remoteAddress: cmdAddress(s.spec.address),
      localAddress: UNSPEC,
      remotePort: s.ntp.options.port,
      leap: r.leap,
      version: s.ntp.options.version,
      mode: 4,
      stratum: r.stratum,
      poll: r.remotePoll,
      precision: r.remotePrecision,
      rootDelay: r.rootDelay,
      rootDispersion: r.rootDispersion,
      refId: r.refId,
      refTime: r.referenceTime ?? 0n,
      offset: sample?.offset ?? 0,
      peerDelay: sample?.peerDelay ?? 0,
      peerDispersion: sample?.peerDispersion ?? 0,
      responseTime: r.responseTime,
      jitterAsymmetry: 0,
      flags,
      txTssChar: "K".charCodeAt(0),
      rxTssChar: "K".charCodeAt(0),
      totalTxCount: r.totalTx,
      totalRxCount: r.totalRx,
      totalValidCount: r.totalValidRx,
      totalGoodCount: r.totalValidRx,
      totalKernelTxTs: 0,
      totalKernelRxTs: r.totalRx,
      totalHwTxTs: 0,
      totalHwRxTs: 0,
    };
  }

  authData(address: CmdAddress): Maybe<AuthDataReport> {
    const s = this.#find(address);
    if (!s) return { status: Status.NOSUCHSOURCE };
    const nts = this.#d.sources.nts(s.id);
    if (nts) return nts.authData(this.#now());
    return {
      mode: 0,
      keyType: 0,
      keyId: 0,
      keyLength: 0,
      keAttempts: 0,
      lastKeAgo: NEVER,
      cookies: 0,
      cookieLength: 0,
      nak: 0,
    };
  }

  sourceName(address: CmdAddress): Maybe<string> {
    const s = this.#find(address);
    return s ? s.spec.name : { status: Status.NOSUCHSOURCE };
  }

  control(req: ControlRequest): StatusCode {
    const d = this.#d;
    switch (req.kind) {
      case "online":
      case "offline":
        for (const s of this.#matching(req.mask, req.address)) {
          d.io.run(d.engine.setOnline(s.id, req.kind === "online"));
        }
        return Status.SUCCESS;
      case "burst":
        for (const s of this.#matching(req.mask, req.address)) {
          d.io.run(d.engine.burst(s.id, req.nGoodSamples, req.nTotalSamples));
        }
        return Status.SUCCESS;
      case "makestep": {
        const remaining = d.clock.remainingCorrection();
        if (remaining !== 0) d.clock.step(remaining);
        return Status.SUCCESS;
      }
      case "del_source": {
        const s = this.#find(req.ip);
        if (!s) return Status.NOSUCHSOURCE;
        d.io.run(d.engine.removeSource(s.id));
        return Status.SUCCESS;
      }
      case "accheck":
      case "cmdaccheck": {
        if (req.ip.family !== "inet4" && req.ip.family !== "inet6") return Status.INVALIDAF;
        const filter = req.kind === "accheck" ? d.ntpAccess : d.cmdAccess;
        return filter.isAllowed(req.ip.address) ? Status.ACCESSALLOWED : Status.ACCESSDENIED;
      }
      case "cyclelogs":
        d.cycleLogs();
        return Status.SUCCESS;
      case "dump":
      case "rekey":
      case "refresh":
      case "reselect":
        return Status.SUCCESS;
      case "shutdown":
        d.shutdown();
        return Status.SUCCESS;
      default:
        return Status.FAILED;
    }
  }

  #find(address: CmdAddress): EngineSource | undefined {
    return this.#live().find((s) => sameAddress(address, s.spec.address));
  }

  /** Sources matching chronyc's mask/address pair (unspec mask: all sources). */
  #matching(mask: CmdAddress, address: CmdAddress): EngineSource[] {
    if (mask.family === "unspec" || address.family === "unspec") return this.#live();
    if (mask.family === "inet4" && mask.address === "0.0.0.0") return this.#live();
    return this.#live().filter((s) => sameAddress(address, s.spec.address));
  }
}

/** selectdata option bits: prefer 1, noselect 2, trust 4, require 8 (chronyc's letters p n t r). */
function selectOptionBits(s: EngineSource): number {
  const o = s.spec.select ?? {};
  return (o.noselect ? 1 : 0) | (o.prefer ? 2 : 0) | (o.trust ? 4 : 0) | (o.require ? 8 : 0);
}
