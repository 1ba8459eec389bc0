/**
 * chronyc's reports about the engine, built from its snapshots
 * (lib/engine/snapshot.ts) and nothing else: `sources`, `sourcestats`,
 * `selectdata`, `tracking`, `activity`, `ntpdata` and the `dump` file text.
 * Pure functions, so a report can be checked from a snapshot made by hand;
 * lib/daemon/cmdmon_backend.ts adds what only the daemon knows (the IO
 * layer's addresses and timestamp sources, unresolved names).
 *
 * @example
 * ```ts
 * import { trackingReport } from "./cmdmon_reports.ts";
 * trackingReport(null).leapStatus; // 3: not synchronised
 * ```
 * @module
 */
import type {
  ActivityReport,
  NtpDataReport,
  SelectDataReport,
  SourceReport,
  SourceStatsReport,
  TrackingReport,
} from "../cmdmon/reports.ts";
import { SourceMode, SourceState } from "../cmdmon/reports.ts";
import { type CmdAddress, UNSPEC } from "../cmdmon/wire.ts";
import type { TrackingData } from "../clock/reference.ts";
import type { SelectState, SourceSelectOptions } from "../clock/select.ts";
import { refIdFromAddress } from "../ntp/reference_id.ts";
import { diffSeconds } from "../time/timestamp.ts";
import type { NtpSourceSnapshot, SourceSnapshot, SystemSnapshot } from "./snapshot.ts";

/** Unknown / never, as chronyc's 32-bit "ago" fields carry it. */
export const NEVER = 0xffffffff;
/** ntpdata flags bit: the last response was interleaved (chronyc "Interleaved : Yes"). */
const NTPDATA_FLAG_INTERLEAVED = 0x4000;
/** ntpdata flags bit: the responses are authenticated (NTS or a key; "Authenticated : Yes"). */
const NTPDATA_FLAG_AUTHENTICATED = 0x8000;

/** An address as cmdmon carries it (empty or null: unspecified). */
export function cmdAddress(address: string | null): CmdAddress {
  if (address === null || address === "") return UNSPEC;
  return address.includes(":") ? { family: "inet6", address } : { family: "inet4", address };
}

/** Source state code (candm RPY_SD_ST_*) of a selection state. */
export function sourceState(state: SelectState | undefined): number {
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

/** selectdata option bits: noselect 1, prefer 2, trust 4, require 8 (chronyc's letters N P T R). */
export function optionBits(o: SourceSelectOptions): number {
  return (o.noselect ? 1 : 0) | (o.prefer ? 2 : 0) | (o.trust ? 4 : 0) | (o.require ? 8 : 0);
}

/**
 * `sources` row. A refclock has mode REF and its refid carried as an IPv4
 * address (the real chronyc prints the refid of a REF row from those four
 * bytes, and hides rows with ID addresses unless `-a`).
 */
export function sourceReport(s: SourceSnapshot): SourceReport {
  const last = s.statistics.lastSample;
  const common = {
    poll: s.poll,
    state: sourceState(s.status?.state),
    flags: 0,
    reachability: s.reach,
    sinceSample: last ? Math.round(last.ago) : NEVER,
    origLatestMeas: last?.measuredOffset ?? 0,
    latestMeas: last?.adjustedOffset ?? 0,
    latestMeasErr: last?.error ?? 0,
  };
  if (s.kind === "refclock") {
    const id = s.refId;
    return {
      address: { family: "inet4", address: [24, 16, 8, 0].map((k) => (id >>> k) & 0xff).join(".") },
      stratum: s.stratum,
      mode: SourceMode.REF,
      ...common,
    };
  }
  return {
    address: cmdAddress(s.address),
    // the stratum of its last sample, as chronyd (0 until one: an unsynchronised server's
    // stratum shows in ntpdata only)
    stratum: s.report.lastSample?.stratum ?? 0,
    mode: s.peer ? SourceMode.PEER : SourceMode.CLIENT,
    ...common,
  };
}

/** `sourcestats` row (a refclock has no address: chronyc shows the refid). */
export function sourceStatsReport(s: SourceSnapshot): SourceStatsReport {
  const st = s.statistics;
  return {
    refId: s.kind === "refclock" ? s.refId : refIdFromAddress(s.address),
    address: s.kind === "refclock" ? UNSPEC : cmdAddress(s.address),
    nSamples: st.np,
    nRuns: st.nr,
    spanSeconds: Math.round(st.span),
    sd: st.stdDev,
    residFreqPpm: st.frequencyPpm,
    skewPpm: st.skewPpm,
    estOffset: st.offset,
    estOffsetErr: s.offsetSd ?? 0,
  };
}

/**
 * chronyc's selectdata Score: 1.0 for the selected source (and any source
 * not scored), otherwise the selected source's score over this one's (our
 * scores are distances: smaller is better, so a better source is above 1).
 */
export function relativeScore(own: number | null, best: number | null): number {
  if (own === null || best === null || own <= 0) return 1;
  return best / own;
}

/** `selectdata` row; `system` gives the selected source's score. */
export function selectDataReport(s: SourceSnapshot, system: SystemSnapshot): SelectDataReport {
  const data = s.selection;
  const effective = s.effectiveSelect;
  return {
    refId: s.kind === "refclock" ? s.refId : refIdFromAddress(s.address),
    address: s.kind === "refclock" ? UNSPEC : cmdAddress(s.address),
    // before its first selection a source is missing samples (or noselect)
    stateChar: s.status?.letter ?? (effective.noselect ? "N" : "M"),
    // Auth column: Y for a source with NTS or a key, as chronyd
    authentication: s.kind === "ntp" && s.authenticated ? 1 : 0,
    leap: data?.leap ?? 3,
    confOptions: optionBits(s.select),
    effOptions: optionBits(effective),
    lastSampleAgo: data ? Math.max(0, Math.round(diffSeconds(s.now, data.lastSampleTime))) : 0,
    score: relativeScore(s.status?.score ?? null, system.selectedScore),
    loLimit: data?.lo ?? 0,
    hiLimit: data?.hi ?? 0,
  };
}

/** `tracking`; without tracking data (a discipline that keeps none), unsynchronised zeros. */
export function trackingReport(t: TrackingData | null): TrackingReport {
  if (t === null) {
    return {
      refId: 0,
      address: UNSPEC,
      stratum: 0,
      leapStatus: 3,
      refTime: 0n,
      currentCorrection: 0,
      lastOffset: 0,
      rmsOffset: 0,
      freqPpm: 0,
      residFreqPpm: 0,
      skewPpm: 0,
      rootDelay: 0,
      rootDispersion: 0,
      lastUpdateInterval: 0,
    };
  }
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

/** `activity`: NTP sources online/offline, in a burst or not; `unresolved` names waiting. */
export function activityReport(
  sources: readonly SourceSnapshot[],
  unresolved: number,
): ActivityReport {
  let online = 0, offline = 0, burstOnline = 0, burstOffline = 0;
  for (const s of sources) {
    if (s.kind !== "ntp") continue;
    if (s.inBurst) s.online ? burstOnline++ : burstOffline++;
    else s.online ? online++ : offline++;
  }
  return { online, offline, burstOnline, burstOffline, unresolved };
}

/** What the IO layer knows of an NTP source's packets (ntpdata). */
export interface SourceIoView {
  /** Our address its replies arrive at, or null before the first. */
  localAddress: string | null;
  /** Timestamp sources (K kernel, H hardware, D daemon) and hardware stamp counts. */
  timestamps: { tx: string; rx: string; hwTx: number; hwRx: number };
}

/** `ntpdata` of one NTP source. */
export function ntpDataReport(s: NtpSourceSnapshot, io: SourceIoView): NtpDataReport {
  const r = s.report;
  // before any reply chronyd has no packet to describe: leap/version/mode/tests 0, "Invalid"
  const heard = r.totalRx > 0;
  let flags = 0;
  const bits = [...r.tests.t123, ...r.tests.t567, ...r.tests.tABCD];
  bits.forEach((ok, i) => {
    if (ok && heard) flags |= 1 << (9 - i); // test 1 is bit 9, as chronyd sends them
  });
  if (r.interleaved) flags |= NTPDATA_FLAG_INTERLEAVED;
  // only authenticated replies are accepted from a source with NTS or a key
  if (r.authenticated && r.totalValidRx > 0) flags |= NTPDATA_FLAG_AUTHENTICATED;
  const sample = r.lastSample;
  const tss = io.timestamps;
  return {
    remoteAddress: cmdAddress(s.address),
    // where its replies arrive (chronyd shows [UNSPEC] until the first one)
    localAddress: cmdAddress(io.localAddress),
    // NTS: the NTP port the NTS-KE server named (its port record), not the configured one
    remotePort: s.remotePort,
    leap: heard ? r.leap : 0,
    version: heard ? s.version : 0,
    // the remote's mode: symmetric passive or server
    mode: !heard ? 0 : s.peer ? 2 : 4,
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
    jitterAsymmetry: s.asymmetry,
    flags,
    txTssChar: heard ? tss.tx.charCodeAt(0) : 0,
    rxTssChar: heard ? tss.rx.charCodeAt(0) : 0,
    totalTxCount: r.totalTx,
    totalRxCount: r.totalRx,
    totalValidCount: r.totalValidRx,
    totalGoodCount: r.totalGoodRx,
    totalKernelTxTs: 0,
    totalKernelRxTs: r.totalRx - tss.hwRx,
    totalHwTxTs: tss.hwTx,
    totalHwRxTs: tss.hwRx,
  };
}
