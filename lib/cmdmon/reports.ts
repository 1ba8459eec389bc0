/**
 * The reports chronyc prints, as native types (Timestamp, float seconds,
 * ppm), and their conversion to and from chrony's wire layouts (candm.h
 * `RPY_*` structs): `encodeReply` builds a reply packet from a `Reply`,
 * `decodeReply` parses one. The daemon fills these types; the codec and the
 * formatter read them.
 *
 * @example
 * ```ts
 * import { decodeReply, encodeReply } from "./reports.ts";
 * const bytes = encodeReply({ kind: "n_sources", nSources: 3 }, { command: 14, status: 0, sequence: 7 });
 * decodeReply(bytes).reply; // { kind: "n_sources", nSources: 3 }
 * ```
 * @module
 */

import type { Timestamp } from "../time/timestamp.ts";
import {
  type CmdAddress,
  MAX_CLIENT_ACCESSES,
  MAX_MANUAL_LIST_SAMPLES,
  PKT_TYPE_REPLY,
  PROTO_VERSION,
  REPLY_HEADER_LENGTH,
  Rpy,
  WireError,
  WireReader,
  WireWriter,
} from "./wire.ts";

/** candm.h RPY_SD_MD_*: source mode in `sources`. */
export const SourceMode = { CLIENT: 0, PEER: 1, REF: 2 } as const;
/** candm.h RPY_SD_ST_*: source state in `sources`. */
export const SourceState = {
  SELECTED: 0,
  NONSELECTABLE: 1,
  FALSETICKER: 2,
  JITTERY: 3,
  UNSELECTED: 4,
  SELECTABLE: 5,
} as const;

/** One row of `sources` (RPY_Source_Data). */
export interface SourceReport {
  address: CmdAddress;
  /** log2 seconds */
  poll: number;
  stratum: number;
  /** `SourceState` */
  state: number;
  /** `SourceMode` */
  mode: number;
  flags: number;
  /** 8-bit reachability register */
  reachability: number;
  /** seconds since the last sample */
  sinceSample: number;
  /** seconds: original measured offset */
  origLatestMeas: number;
  /** seconds: offset adjusted for later slews */
  latestMeas: number;
  /** seconds: error bound */
  latestMeasErr: number;
}

/** `tracking` (RPY_Tracking). Offsets in seconds, frequencies in ppm. */
export interface TrackingReport {
  refId: number;
  address: CmdAddress;
  stratum: number;
  /** 0 normal, 1 insert, 2 delete, 3 unsynchronised */
  leapStatus: number;
  refTime: Timestamp;
  /** seconds: the clock is fast of NTP time by this much */
  currentCorrection: number;
  lastOffset: number;
  rmsOffset: number;
  freqPpm: number;
  residFreqPpm: number;
  skewPpm: number;
  rootDelay: number;
  rootDispersion: number;
  /** seconds */
  lastUpdateInterval: number;
}

/** One row of `sourcestats` (RPY_Sourcestats). */
export interface SourceStatsReport {
  refId: number;
  address: CmdAddress;
  nSamples: number;
  nRuns: number;
  spanSeconds: number;
  /** seconds: standard deviation */
  sd: number;
  residFreqPpm: number;
  skewPpm: number;
  /** seconds */
  estOffset: number;
  estOffsetErr: number;
}

/** `rtcdata` (RPY_Rtc). */
export interface RtcReport {
  refTime: Timestamp;
  nSamples: number;
  nRuns: number;
  spanSeconds: number;
  rtcSecondsFast: number;
  rtcGainRatePpm: number;
}

/** `settime` reply (RPY_ManualTimestamp2). */
export interface ManualTimestampReport {
  offset: number;
  dfreqPpm: number;
  newAfreqPpm: number;
}

/** One row of `clients` (RPY_ClientAccesses_Client). Intervals are log2 seconds, 127 = none. */
export interface ClientAccessReport {
  address: CmdAddress;
  ntpHits: number;
  nkeHits: number;
  cmdHits: number;
  ntpDrops: number;
  nkeDrops: number;
  cmdDrops: number;
  ntpInterval: number;
  nkeInterval: number;
  cmdInterval: number;
  ntpTimeoutInterval: number;
  /** seconds; 0xffffffff = never */
  lastNtpHitAgo: number;
  lastNkeHitAgo: number;
  lastCmdHitAgo: number;
}

/** A page of `clients` (RPY_ClientAccessesByIndex). */
export interface ClientAccessesPage {
  nIndices: number;
  nextIndex: number;
  clients: ClientAccessReport[];
}

/** `serverstats` (RPY_ServerStats v1-v4); fields a version lacks are 0. */
export interface ServerStatsReport {
  /** layout version: 1..4 (RPY_SERVER_STATS..RPY_SERVER_STATS4) */
  version: 1 | 2 | 3 | 4;
  ntpHits: number;
  nkeHits: number;
  cmdHits: number;
  ntpDrops: number;
  nkeDrops: number;
  cmdDrops: number;
  logDrops: number;
  ntpAuthHits: number;
  ntpInterleavedHits: number;
  ntpTimestamps: number;
  ntpSpanSeconds: number;
  ntpDaemonRxTimestamps: number;
  ntpDaemonTxTimestamps: number;
  ntpKernelRxTimestamps: number;
  ntpKernelTxTimestamps: number;
  ntpHwRxTimestamps: number;
  ntpHwTxTimestamps: number;
}

/** One `manual list` sample (RPY_ManualListSample). */
export interface ManualSample {
  when: Timestamp;
  slewedOffset: number;
  origOffset: number;
  residual: number;
}

/** `activity` (RPY_Activity). */
export interface ActivityReport {
  online: number;
  offline: number;
  burstOnline: number;
  burstOffline: number;
  unresolved: number;
}

/** `smoothing` (RPY_Smoothing). */
export interface SmoothingReport {
  active: boolean;
  leapOnly: boolean;
  offset: number;
  freqPpm: number;
  wanderPpm: number;
  lastUpdateAgo: number;
  remainingTime: number;
}

/** `ntpdata` (RPY_NTPData; v2 adds good and timestamping counters). */
export interface NtpDataReport {
  remoteAddress: CmdAddress;
  localAddress: CmdAddress;
  remotePort: number;
  leap: number;
  version: number;
  mode: number;
  stratum: number;
  /** log2 seconds */
  poll: number;
  /** log2 seconds */
  precision: number;
  rootDelay: number;
  rootDispersion: number;
  refId: number;
  refTime: Timestamp;
  offset: number;
  peerDelay: number;
  peerDispersion: number;
  responseTime: number;
  jitterAsymmetry: number;
  /** tests bits 0..9, 0x4000 interleaved, 0x8000 authenticated */
  flags: number;
  /** 'D' daemon, 'K' kernel, 'H' hardware */
  txTssChar: number;
  rxTssChar: number;
  totalTxCount: number;
  totalRxCount: number;
  totalValidCount: number;
  totalGoodCount: number;
  totalKernelTxTs: number;
  totalKernelRxTs: number;
  totalHwTxTs: number;
  totalHwRxTs: number;
}

/** `authdata` row (RPY_AuthData). mode: 0 none, 1 symmetric, 2 NTS. */
export interface AuthDataReport {
  mode: number;
  keyType: number;
  keyId: number;
  keyLength: number;
  keAttempts: number;
  /** seconds; 0xffffffff = never */
  lastKeAgo: number;
  cookies: number;
  cookieLength: number;
  nak: number;
}

/** `selectdata` row (RPY_SelectData). */
export interface SelectDataReport {
  refId: number;
  address: CmdAddress;
  stateChar: string;
  authentication: number;
  leap: number;
  confOptions: number;
  effOptions: number;
  lastSampleAgo: number;
  score: number;
  loLimit: number;
  hiLimit: number;
}

/** Any reply body. */
export type Reply =
  | { kind: "null" }
  | { kind: "n_sources"; nSources: number }
  | { kind: "source_data"; report: SourceReport }
  | { kind: "tracking"; report: TrackingReport }
  | { kind: "sourcestats"; report: SourceStatsReport }
  | { kind: "rtc"; report: RtcReport }
  | { kind: "manual_timestamp"; report: ManualTimestampReport }
  | { kind: "client_accesses"; page: ClientAccessesPage }
  | { kind: "server_stats"; report: ServerStatsReport }
  | { kind: "manual_list"; samples: ManualSample[] }
  | { kind: "activity"; report: ActivityReport }
  | { kind: "smoothing"; report: SmoothingReport }
  | { kind: "ntp_data"; report: NtpDataReport; v2: boolean }
  | { kind: "ntp_source_name"; name: string }
  | { kind: "auth_data"; report: AuthDataReport }
  | { kind: "select_data"; report: SelectDataReport };

/** Reply header fields. */
export interface ReplyHeader {
  version: number;
  pktType: number;
  res1: number;
  res2: number;
  command: number;
  reply: number;
  status: number;
  sequence: number;
}

function replyCode(reply: Reply): number {
  switch (reply.kind) {
    case "null":
      return Rpy.NULL;
    case "n_sources":
      return Rpy.N_SOURCES;
    case "source_data":
      return Rpy.SOURCE_DATA;
    case "tracking":
      return Rpy.TRACKING;
    case "sourcestats":
      return Rpy.SOURCESTATS;
    case "rtc":
      return Rpy.RTC;
    case "manual_timestamp":
      return Rpy.MANUAL_TIMESTAMP2;
    case "client_accesses":
      return Rpy.CLIENT_ACCESSES_BY_INDEX3;
    case "server_stats":
      return [Rpy.SERVER_STATS, Rpy.SERVER_STATS2, Rpy.SERVER_STATS3, Rpy.SERVER_STATS4][
        reply.report.version - 1
      ] ?? Rpy.SERVER_STATS4;
    case "manual_list":
      return Rpy.MANUAL_LIST2;
    case "activity":
      return Rpy.ACTIVITY;
    case "smoothing":
      return Rpy.SMOOTHING;
    case "ntp_data":
      return reply.v2 ? Rpy.NTP_DATA2 : Rpy.NTP_DATA;
    case "ntp_source_name":
      return Rpy.NTP_SOURCE_NAME;
    case "auth_data":
      return Rpy.AUTH_DATA;
    case "select_data":
      return Rpy.SELECT_DATA;
  }
}

/** Body length (bytes) of each reply code, candm.h layouts. */
const BODY_LENGTH: Record<number, number> = {
  [Rpy.NULL]: 0,
  [Rpy.N_SOURCES]: 4,
  [Rpy.SOURCE_DATA]: 48,
  [Rpy.TRACKING]: 76,
  [Rpy.SOURCESTATS]: 56,
  [Rpy.RTC]: 28,
  [Rpy.MANUAL_TIMESTAMP2]: 12,
  [Rpy.CLIENT_ACCESSES_BY_INDEX3]: 12 + MAX_CLIENT_ACCESSES * 60,
  [Rpy.SERVER_STATS]: 20,
  [Rpy.SERVER_STATS2]: 32,
  [Rpy.SERVER_STATS3]: 44,
  [Rpy.SERVER_STATS4]: 168,
  [Rpy.MANUAL_LIST2]: 4 + MAX_MANUAL_LIST_SAMPLES * 24,
  [Rpy.ACTIVITY]: 20,
  [Rpy.SMOOTHING]: 24,
  [Rpy.NTP_DATA]: 124,
  [Rpy.NTP_DATA2]: 144,
  [Rpy.NTP_SOURCE_NAME]: 256,
  [Rpy.AUTH_DATA]: 24,
  [Rpy.SELECT_DATA]: 48,
};

/** Length (bytes) of a whole reply packet with this reply code; undefined for unknown codes. */
export function replyLength(code: number): number | undefined {
  const b = BODY_LENGTH[code];
  return b === undefined ? undefined : REPLY_HEADER_LENGTH + b;
}

/** Length (bytes) of the packet `encodeReply` makes for this reply. */
export function encodedReplyLength(reply: Reply): number {
  return replyLength(replyCode(reply)) ?? REPLY_HEADER_LENGTH;
}

const SERVER_STATS_FIELDS: (keyof Omit<ServerStatsReport, "version">)[][] = [
  ["ntpHits", "cmdHits", "ntpDrops", "cmdDrops", "logDrops"],
  ["ntpHits", "nkeHits", "cmdHits", "ntpDrops", "nkeDrops", "cmdDrops", "logDrops", "ntpAuthHits"],
  [
    "ntpHits",
    "nkeHits",
    "cmdHits",
    "ntpDrops",
    "nkeDrops",
    "cmdDrops",
    "logDrops",
    "ntpAuthHits",
    "ntpInterleavedHits",
    "ntpTimestamps",
    "ntpSpanSeconds",
  ],
  [
    "ntpHits",
    "nkeHits",
    "cmdHits",
    "ntpDrops",
    "nkeDrops",
    "cmdDrops",
    "logDrops",
    "ntpAuthHits",
    "ntpInterleavedHits",
    "ntpTimestamps",
    "ntpSpanSeconds",
    "ntpDaemonRxTimestamps",
    "ntpDaemonTxTimestamps",
    "ntpKernelRxTimestamps",
    "ntpKernelTxTimestamps",
    "ntpHwRxTimestamps",
    "ntpHwTxTimestamps",
  ],
];

/** A server-stats report with every counter zero. */
export function emptyServerStats(version: 1 | 2 | 3 | 4 = 4): ServerStatsReport {
  return {
    version,
    ntpHits: 0,
    nkeHits: 0,
    cmdHits: 0,
    ntpDrops: 0,
    nkeDrops: 0,
    cmdDrops: 0,
    logDrops: 0,
    ntpAuthHits: 0,
    ntpInterleavedHits: 0,
    ntpTimestamps: 0,
    ntpSpanSeconds: 0,
    ntpDaemonRxTimestamps: 0,
    ntpDaemonTxTimestamps: 0,
    ntpKernelRxTimestamps: 0,
    ntpKernelTxTimestamps: 0,
    ntpHwRxTimestamps: 0,
    ntpHwTxTimestamps: 0,
  };
}

function writeBody(w: WireWriter, reply: Reply): void {
  switch (reply.kind) {
    case "null":
      return;
    case "n_sources":
      w.u32(reply.nSources);
      return;
    case "source_data": {
      const s = reply.report;
      w.address(s.address);
      w.i16(s.poll);
      w.u16(s.stratum);
      w.u16(s.state);
      w.u16(s.mode);
      w.u16(s.flags);
      w.u16(s.reachability);
      w.u32(s.sinceSample);
      w.float(s.origLatestMeas);
      w.float(s.latestMeas);
      w.float(s.latestMeasErr);
      return;
    }
    case "tracking": {
      const t = reply.report;
      w.u32(t.refId);
      w.address(t.address);
      w.u16(t.stratum);
      w.u16(t.leapStatus);
      w.timespec(t.refTime);
      for (
        const v of [
          t.currentCorrection,
          t.lastOffset,
          t.rmsOffset,
          t.freqPpm,
          t.residFreqPpm,
          t.skewPpm,
          t.rootDelay,
          t.rootDispersion,
          t.lastUpdateInterval,
        ]
      ) w.float(v);
      return;
    }
    case "sourcestats": {
      const s = reply.report;
      w.u32(s.refId);
      w.address(s.address);
      w.u32(s.nSamples);
      w.u32(s.nRuns);
      w.u32(s.spanSeconds);
      for (const v of [s.sd, s.residFreqPpm, s.skewPpm, s.estOffset, s.estOffsetErr]) w.float(v);
      return;
    }
    case "rtc": {
      const r = reply.report;
      w.timespec(r.refTime);
      w.u16(r.nSamples);
      w.u16(r.nRuns);
      w.u32(r.spanSeconds);
      w.float(r.rtcSecondsFast);
      w.float(r.rtcGainRatePpm);
      return;
    }
    case "manual_timestamp":
      w.float(reply.report.offset);
      w.float(reply.report.dfreqPpm);
      w.float(reply.report.newAfreqPpm);
      return;
    case "client_accesses": {
      const p = reply.page;
      const clients = p.clients.slice(0, MAX_CLIENT_ACCESSES);
      w.u32(p.nIndices);
      w.u32(p.nextIndex);
      w.u32(clients.length);
      for (const c of clients) {
        w.address(c.address);
        for (
          const v of [c.ntpHits, c.nkeHits, c.cmdHits, c.ntpDrops, c.nkeDrops, c.cmdDrops]
        ) w.u32(v);
        w.i8(c.ntpInterval);
        w.i8(c.nkeInterval);
        w.i8(c.cmdInterval);
        w.i8(c.ntpTimeoutInterval);
        w.u32(c.lastNtpHitAgo);
        w.u32(c.lastNkeHitAgo);
        w.u32(c.lastCmdHitAgo);
      }
      return;
    }
    case "server_stats": {
      const s = reply.report;
      const fields = SERVER_STATS_FIELDS[s.version - 1] ?? [];
      for (const f of fields) s.version === 4 ? w.u64(s[f]) : w.u32(s[f]);
      return;
    }
    case "manual_list": {
      const samples = reply.samples.slice(0, MAX_MANUAL_LIST_SAMPLES);
      w.u32(samples.length);
      for (const s of samples) {
        w.timespec(s.when);
        w.float(s.slewedOffset);
        w.float(s.origOffset);
        w.float(s.residual);
      }
      return;
    }
    case "activity": {
      const a = reply.report;
      for (const v of [a.online, a.offline, a.burstOnline, a.burstOffline, a.unresolved]) w.i32(v);
      return;
    }
    case "smoothing": {
      const s = reply.report;
      w.u32((s.active ? 1 : 0) | (s.leapOnly ? 2 : 0));
      for (const v of [s.offset, s.freqPpm, s.wanderPpm, s.lastUpdateAgo, s.remainingTime]) {
        w.float(v);
      }
      return;
    }
    case "ntp_data": {
      const n = reply.report;
      w.address(n.remoteAddress);
      w.address(n.localAddress);
      w.u16(n.remotePort);
      w.u8(n.leap);
      w.u8(n.version);
      w.u8(n.mode);
      w.u8(n.stratum);
      w.i8(n.poll);
      w.i8(n.precision);
      w.float(n.rootDelay);
      w.float(n.rootDispersion);
      w.u32(n.refId);
      w.timespec(n.refTime);
      for (
        const v of [n.offset, n.peerDelay, n.peerDispersion, n.responseTime, n.jitterAsymmetry]
      ) w.float(v);
      w.u16(n.flags);
      w.u8(n.txTssChar);
      w.u8(n.rxTssChar);
      w.u32(n.totalTxCount);
      w.u32(n.totalRxCount);
      w.u32(n.totalValidCount);
      w.u32(n.totalGoodCount);
      if (reply.v2) {
        for (
          const v of [n.totalKernelTxTs, n.totalKernelRxTs, n.totalHwTxTs, n.totalHwRxTs]
        ) w.u32(v);
      } else {
        // chronyd 4.3 fills the three reserved words with all ones (captured)
        for (let i = 0; i < 3; i++) w.u32(0xffffffff);
      }
      return;
    }
    case "ntp_source_name":
      w.string(reply.name, 256);
      return;
    case "auth_data": {
      const a = reply.report;
      w.u16(a.mode);
      w.u16(a.keyType);
      w.u32(a.keyId);
      w.u16(a.keyLength);
      w.u16(a.keAttempts);
      w.u32(a.lastKeAgo);
      w.u16(a.cookies);
      w.u16(a.cookieLength);
      w.u16(a.nak);
      w.u16(0);
      return;
    }
    case "select_data": {
      const s = reply.report;
      w.u32(s.refId);
      w.address(s.address);
      w.u8(s.stateChar.charCodeAt(0) || 0x20);
      w.u8(s.authentication);
      w.u8(s.leap);
      w.u8(0);
      w.u16(s.confOptions);
      w.u16(s.effOptions);
      w.u32(s.lastSampleAgo);
      w.float(s.score);
      w.float(s.loLimit);
      w.float(s.hiLimit);
      return;
    }
  }
}

/** Encodes a reply packet: header (version 6, type 2) and body in chrony's layout. */
export function encodeReply(
  reply: Reply,
  header: { command: number; status: number; sequence: number },
): Uint8Array {
  const code = replyCode(reply);
  const w = new WireWriter(replyLength(code) ?? REPLY_HEADER_LENGTH);
  w.u8(PROTO_VERSION);
  w.u8(PKT_TYPE_REPLY);
  w.u8(0);
  w.u8(0);
  w.u16(header.command);
  w.u16(code);
  w.u16(header.status);
  w.skip(6);
  w.u32(header.sequence);
  w.skip(8);
  writeBody(w, reply);
  return w.bytes;
}

/** Reads the 28-byte reply header; throws `WireError` when shorter. */
export function decodeReplyHeader(bytes: Uint8Array): ReplyHeader {
  const r = new WireReader(bytes);
  const version = r.u8();
  const pktType = r.u8();
  const res1 = r.u8();
  const res2 = r.u8();
  const command = r.u16();
  const reply = r.u16();
  const status = r.u16();
  r.skip(6);
  const sequence = r.u32();
  r.skip(8);
  return { version, pktType, res1, res2, command, reply, status, sequence };
}

function readBody(r: WireReader, code: number): Reply {
  switch (code) {
    case Rpy.NULL:
      return { kind: "null" };
    case Rpy.N_SOURCES:
      return { kind: "n_sources", nSources: r.u32() };
    case Rpy.SOURCE_DATA: {
      const address = r.address();
      const poll = r.i16();
      const stratum = r.u16();
      const state = r.u16();
      const mode = r.u16();
      const flags = r.u16();
      const reachability = r.u16();
      const sinceSample = r.u32();
      const origLatestMeas = r.float();
      const latestMeas = r.float();
      const latestMeasErr = r.float();
      return {
        kind: "source_data",
        report: {
          address,
          poll,
          stratum,
          state,
          mode,
          flags,
          reachability,
          sinceSample,
          origLatestMeas,
          latestMeas,
          latestMeasErr,
        },
      };
    }
    case Rpy.TRACKING: {
      const refId = r.u32();
      const address = r.address();
      const stratum = r.u16();
      const leapStatus = r.u16();
      const refTime = r.timespec();
      return {
        kind: "tracking",
        report: {
          refId,
          address,
          stratum,
          leapStatus,
          refTime,
          currentCorrection: r.float(),
          lastOffset: r.float(),
          rmsOffset: r.float(),
          freqPpm: r.float(),
          residFreqPpm: r.float(),
          skewPpm: r.float(),
          rootDelay: r.float(),
          rootDispersion: r.float(),
          lastUpdateInterval: r.float(),
        },
      };
    }
    case Rpy.SOURCESTATS: {
      const refId = r.u32();
      const address = r.address();
      return {
        kind: "sourcestats",
        report: {
          refId,
          address,
          nSamples: r.u32(),
          nRuns: r.u32(),
          spanSeconds: r.u32(),
          sd: r.float(),
          residFreqPpm: r.float(),
          skewPpm: r.float(),
          estOffset: r.float(),
          estOffsetErr: r.float(),
        },
      };
    }
    case Rpy.RTC:
      return {
        kind: "rtc",
        report: {
          refTime: r.timespec(),
          nSamples: r.u16(),
          nRuns: r.u16(),
          spanSeconds: r.u32(),
          rtcSecondsFast: r.float(),
          rtcGainRatePpm: r.float(),
        },
      };
    case Rpy.MANUAL_TIMESTAMP2:
      return {
        kind: "manual_timestamp",
        report: { offset: r.float(), dfreqPpm: r.float(), newAfreqPpm: r.float() },
      };
    case Rpy.CLIENT_ACCESSES_BY_INDEX3: {
      const nIndices = r.u32();
      const nextIndex = r.u32();
      const n = Math.min(r.u32(), MAX_CLIENT_ACCESSES);
      const clients: ClientAccessReport[] = [];
      for (let i = 0; i < n; i++) {
        clients.push({
          address: r.address(),
          ntpHits: r.u32(),
          nkeHits: r.u32(),
          cmdHits: r.u32(),
          ntpDrops: r.u32(),
          nkeDrops: r.u32(),
          cmdDrops: r.u32(),
          ntpInterval: r.i8(),
          nkeInterval: r.i8(),
          cmdInterval: r.i8(),
          ntpTimeoutInterval: r.i8(),
          lastNtpHitAgo: r.u32(),
          lastNkeHitAgo: r.u32(),
          lastCmdHitAgo: r.u32(),
        });
      }
      return { kind: "client_accesses", page: { nIndices, nextIndex, clients } };
    }
    case Rpy.SERVER_STATS:
    case Rpy.SERVER_STATS2:
    case Rpy.SERVER_STATS3:
    case Rpy.SERVER_STATS4: {
      const version = code === Rpy.SERVER_STATS
        ? 1
        : code === Rpy.SERVER_STATS2
        ? 2
        : code === Rpy.SERVER_STATS3
        ? 3
        : 4;
      const report = emptyServerStats(version);
      for (const f of SERVER_STATS_FIELDS[version - 1] ?? []) {
        report[f] = version === 4 ? r.u64() : r.u32();
      }
      return { kind: "server_stats", report };
    }
    case Rpy.MANUAL_LIST2: {
      const n = Math.min(r.u32(), MAX_MANUAL_LIST_SAMPLES);
      const samples: ManualSample[] = [];
      for (let i = 0; i < n; i++) {
        samples.push({
          when: r.timespec(),
          slewedOffset: r.float(),
          origOffset: r.float(),
          residual: r.float(),
        });
      }
      return { kind: "manual_list", samples };
    }
    case Rpy.ACTIVITY:
      return {
        kind: "activity",
        report: {
          online: r.i32(),
          offline: r.i32(),
          burstOnline: r.i32(),
          burstOffline: r.i32(),
          unresolved: r.i32(),
        },
      };
    case Rpy.SMOOTHING: {
      const flags = r.u32();
      return {
        kind: "smoothing",
        report: {
          active: (flags & 1) !== 0,
          leapOnly: (flags & 2) !== 0,
          offset: r.float(),
          freqPpm: r.float(),
          wanderPpm: r.float(),
          lastUpdateAgo: r.float(),
          remainingTime: r.float(),
        },
      };
    }
    case Rpy.NTP_DATA:
    case Rpy.NTP_DATA2: {
      const v2 = code === Rpy.NTP_DATA2;
      const report: NtpDataReport = {
        remoteAddress: r.address(),
        localAddress: r.address(),
        remotePort: r.u16(),
        leap: r.u8(),
        version: r.u8(),
        mode: r.u8(),
        stratum: r.u8(),
        poll: r.i8(),
        precision: r.i8(),
        rootDelay: r.float(),
        rootDispersion: r.float(),
        refId: r.u32(),
        refTime: r.timespec(),
        offset: r.float(),
        peerDelay: r.float(),
        peerDispersion: r.float(),
        responseTime: r.float(),
        jitterAsymmetry: r.float(),
        flags: r.u16(),
        txTssChar: r.u8(),
        rxTssChar: r.u8(),
        totalTxCount: r.u32(),
        totalRxCount: r.u32(),
        totalValidCount: r.u32(),
        totalGoodCount: r.u32(),
        totalKernelTxTs: v2 ? r.u32() : 0,
        totalKernelRxTs: v2 ? r.u32() : 0,
        totalHwTxTs: v2 ? r.u32() : 0,
        totalHwRxTs: v2 ? r.u32() : 0,
      };
      return { kind: "ntp_data", report, v2 };
    }
    case Rpy.NTP_SOURCE_NAME:
      return { kind: "ntp_source_name", name: r.string(256) };
    case Rpy.AUTH_DATA: {
      const report: AuthDataReport = {
        mode: r.u16(),
        keyType: r.u16(),
        keyId: r.u32(),
        keyLength: r.u16(),
        keAttempts: r.u16(),
        lastKeAgo: r.u32(),
        cookies: r.u16(),
        cookieLength: r.u16(),
        nak: r.u16(),
      };
      return { kind: "auth_data", report };
    }
    case Rpy.SELECT_DATA: {
      const refId = r.u32();
      const address = r.address();
      const stateChar = String.fromCharCode(r.u8());
      const authentication = r.u8();
      const leap = r.u8();
      r.u8();
      return {
        kind: "select_data",
        report: {
          refId,
          address,
          stateChar,
          authentication,
          leap,
          confOptions: r.u16(),
          effOptions: r.u16(),
          lastSampleAgo: r.u32(),
          score: r.float(),
          loLimit: r.float(),
          hiLimit: r.float(),
        },
      };
    }
    default:
      throw new WireError(`unknown reply type ${code}`);
  }
}

/** Decodes a reply packet. Throws `WireError` on short packets or unknown reply types. */
export function decodeReply(bytes: Uint8Array): { header: ReplyHeader; reply: Reply } {
  const header = decodeReplyHeader(bytes);
  const len = replyLength(header.reply);
  if (len === undefined) throw new WireError(`unknown reply type ${header.reply}`);
  if (bytes.length < len) {
    throw new WireError(`reply type ${header.reply} needs ${len} bytes, got ${bytes.length}`);
  }
  return { header, reply: readBody(new WireReader(bytes, REPLY_HEADER_LENGTH), header.reply) };
}
