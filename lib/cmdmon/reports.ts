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
  bits,
  type Layout,
  layoutSize,
  list,
  pad,
  readFields,
  same,
  writeFields,
  zeroFields,
} from "./layouts.ts";
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
  /** tests 1..10 at bits 9..0 (test 1 = 0x200), 0x4000 interleaved, 0x8000 authenticated */
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

/** The `kind` strings of `Reply`. */
export type ReplyKind = Reply["kind"];

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

/** candm.h CMD_Reply header: 28 bytes before the body. */
const REPLY_HEADER: Layout<ReplyHeader> = [
  ...same<ReplyHeader>("u8", "version", "pktType", "res1", "res2"),
  ...same<ReplyHeader>("u16", "command", "reply", "status"),
  pad(6),
  ["sequence", "u32"],
  pad(8),
];

/**
 * One reply layout (one RPY_* code): the `Reply` kind it decodes to, where
 * the body's fields sit in that `Reply`, what marks this version, and the
 * body's fields in wire order.
 */
export interface ReplySpec {
  /** candm.h RPY_* code */
  readonly code: number;
  readonly kind: ReplyKind;
  /** The `Reply` property holding the fields ("report", "page"); "" = on the reply itself. */
  readonly holder: "report" | "page" | "";
  /** Constant properties naming this version: on the reply (`v2`) and in the record (`version`). */
  readonly marks: {
    readonly reply?: Readonly<Record<string, unknown>>;
    readonly record?: Readonly<Record<string, unknown>>;
  };
  readonly layout: Layout;
}

type Of<K extends ReplyKind> = Extract<Reply, { kind: K }>;
/** Where a kind's fields sit: its `report` or `page` property, or the reply itself (""). */
type HolderOf<K extends ReplyKind> = "report" extends keyof Of<K> ? "report"
  : "page" extends keyof Of<K> ? "page"
  : "";
/** The record a kind's layout describes (so a table row's field names are type-checked). */
type RecordOf<K extends ReplyKind> = HolderOf<K> extends "" ? Omit<Of<K>, "kind">
  : Of<K>[HolderOf<K> & keyof Of<K>];

function spec<K extends ReplyKind>(
  code: number,
  kind: K,
  holder: HolderOf<K>,
  layout: Layout<RecordOf<K>>,
  marks: ReplySpec["marks"] = {},
): ReplySpec {
  return { code, kind, holder, marks, layout: layout as Layout };
}

const SOURCE_DATA: Layout<SourceReport> = [
  ["address", "addr"],
  ["poll", "i16"],
  ...same<SourceReport>("u16", "stratum", "state", "mode", "flags", "reachability"),
  ["sinceSample", "u32"],
  ...same<SourceReport>("float", "origLatestMeas", "latestMeas", "latestMeasErr"),
];

const TRACKING: Layout<TrackingReport> = [
  ["refId", "u32"],
  ["address", "addr"],
  ...same<TrackingReport>("u16", "stratum", "leapStatus"),
  ["refTime", "ts"],
  ...same<TrackingReport>(
    "float",
    "currentCorrection",
    "lastOffset",
    "rmsOffset",
    "freqPpm",
    "residFreqPpm",
    "skewPpm",
    "rootDelay",
    "rootDispersion",
    "lastUpdateInterval",
  ),
];

const SOURCESTATS: Layout<SourceStatsReport> = [
  ["refId", "u32"],
  ["address", "addr"],
  ...same<SourceStatsReport>("u32", "nSamples", "nRuns", "spanSeconds"),
  ...same<SourceStatsReport>("float", "sd", "residFreqPpm", "skewPpm", "estOffset", "estOffsetErr"),
];

const RTC: Layout<RtcReport> = [
  ["refTime", "ts"],
  ...same<RtcReport>("u16", "nSamples", "nRuns"),
  ["spanSeconds", "u32"],
  ...same<RtcReport>("float", "rtcSecondsFast", "rtcGainRatePpm"),
];

const CLIENT: Layout<ClientAccessReport> = [
  ["address", "addr"],
  ...same<ClientAccessReport>("u32", "ntpHits", "nkeHits", "cmdHits"),
  ...same<ClientAccessReport>("u32", "ntpDrops", "nkeDrops", "cmdDrops"),
  ...same<ClientAccessReport>("i8", "ntpInterval", "nkeInterval", "cmdInterval"),
  ["ntpTimeoutInterval", "i8"],
  ...same<ClientAccessReport>("u32", "lastNtpHitAgo", "lastNkeHitAgo", "lastCmdHitAgo"),
];

const MANUAL_SAMPLE: Layout<ManualSample> = [
  ["when", "ts"],
  ...same<ManualSample>("float", "slewedOffset", "origOffset", "residual"),
];

type Counter = keyof Omit<ServerStatsReport, "version">;
/** RPY_ServerStats: the counters of each version, in wire order. */
const SERVER_STATS_1: Counter[] = ["ntpHits", "cmdHits", "ntpDrops", "cmdDrops", "logDrops"];
const SERVER_STATS_2: Counter[] = [
  ...["ntpHits", "nkeHits", "cmdHits", "ntpDrops", "nkeDrops", "cmdDrops"] as const,
  ...["logDrops", "ntpAuthHits"] as const,
];
const SERVER_STATS_3: Counter[] = [
  ...SERVER_STATS_2,
  ...["ntpInterleavedHits", "ntpTimestamps", "ntpSpanSeconds"] as const,
];
const SERVER_STATS_4: Counter[] = [
  ...SERVER_STATS_3,
  ...["ntpDaemonRxTimestamps", "ntpDaemonTxTimestamps"] as const,
  ...["ntpKernelRxTimestamps", "ntpKernelTxTimestamps"] as const,
  ...["ntpHwRxTimestamps", "ntpHwTxTimestamps"] as const,
];

/** RPY_NTPData up to the counters both versions have. */
const NTP_DATA: Layout<NtpDataReport> = [
  ...same<NtpDataReport>("addr", "remoteAddress", "localAddress"),
  ["remotePort", "u16"],
  ...same<NtpDataReport>("u8", "leap", "version", "mode", "stratum"),
  ...same<NtpDataReport>("i8", "poll", "precision"),
  ...same<NtpDataReport>("float", "rootDelay", "rootDispersion"),
  ["refId", "u32"],
  ["refTime", "ts"],
  ...same<NtpDataReport>(
    "float",
    "offset",
    "peerDelay",
    "peerDispersion",
    "responseTime",
    "jitterAsymmetry",
  ),
  ["flags", "u16"],
  ...same<NtpDataReport>("u8", "txTssChar", "rxTssChar"),
  ...same<NtpDataReport>("u32", "totalTxCount", "totalRxCount", "totalValidCount"),
  ["totalGoodCount", "u32"],
];

const AUTH_DATA: Layout<AuthDataReport> = [
  ...same<AuthDataReport>("u16", "mode", "keyType"),
  ["keyId", "u32"],
  ...same<AuthDataReport>("u16", "keyLength", "keAttempts"),
  ["lastKeAgo", "u32"],
  ...same<AuthDataReport>("u16", "cookies", "cookieLength", "nak"),
  pad(2),
];

const SELECT_DATA: Layout<SelectDataReport> = [
  ["refId", "u32"],
  ["address", "addr"],
  ["stateChar", "char"],
  ...same<SelectDataReport>("u8", "authentication", "leap"),
  pad(1),
  ...same<SelectDataReport>("u16", "confOptions", "effOptions"),
  ["lastSampleAgo", "u32"],
  ...same<SelectDataReport>("float", "score", "loLimit", "hiLimit"),
];

/**
 * Every reply horae sends and reads, one row per RPY_* layout (candm.h;
 * lengths checked in tests/cmdmon/reply_layouts_test.ts). Versions of one
 * reply share a kind; the first row whose marks match a `Reply` encodes it.
 */
export const REPLY_TABLE: readonly ReplySpec[] = [
  spec(Rpy.NULL, "null", "", []),
  spec(Rpy.N_SOURCES, "n_sources", "", [["nSources", "u32"]]),
  spec(Rpy.SOURCE_DATA, "source_data", "report", SOURCE_DATA),
  spec(Rpy.TRACKING, "tracking", "report", TRACKING),
  spec(Rpy.SOURCESTATS, "sourcestats", "report", SOURCESTATS),
  spec(Rpy.RTC, "rtc", "report", RTC),
  spec(
    Rpy.MANUAL_TIMESTAMP2,
    "manual_timestamp",
    "report",
    same<ManualTimestampReport>("float", "offset", "dfreqPpm", "newAfreqPpm"),
  ),
  spec(
    Rpy.CLIENT_ACCESSES_BY_INDEX3,
    "client_accesses",
    "page",
    [
      ...same<ClientAccessesPage>("u32", "nIndices", "nextIndex"),
      list("clients", CLIENT, MAX_CLIENT_ACCESSES),
    ],
  ),
  // v1-v3: 32-bit counters (chronyd 4.3 sends v3); v4: 64-bit counters, then 4 reserved
  // words chronyd 4.8 fills with all ones (captured)
  spec(Rpy.SERVER_STATS, "server_stats", "report", same("u32", ...SERVER_STATS_1), {
    record: { version: 1 },
  }),
  spec(Rpy.SERVER_STATS2, "server_stats", "report", same("u32", ...SERVER_STATS_2), {
    record: { version: 2 },
  }),
  spec(Rpy.SERVER_STATS3, "server_stats", "report", same("u32", ...SERVER_STATS_3), {
    record: { version: 3 },
  }),
  spec(Rpy.SERVER_STATS4, "server_stats", "report", [
    ...same("u64", ...SERVER_STATS_4),
    pad(32, 0xff),
  ], {
    record: { version: 4 },
  }),
  spec(Rpy.MANUAL_LIST2, "manual_list", "", [
    list("samples", MANUAL_SAMPLE, MAX_MANUAL_LIST_SAMPLES),
  ]),
  spec(
    Rpy.ACTIVITY,
    "activity",
    "report",
    same<ActivityReport>("i32", "online", "offline", "burstOnline", "burstOffline", "unresolved"),
  ),
  spec(Rpy.SMOOTHING, "smoothing", "report", [
    bits<SmoothingReport>("active", "leapOnly"),
    ...same<SmoothingReport>(
      "float",
      "offset",
      "freqPpm",
      "wanderPpm",
      "lastUpdateAgo",
      "remainingTime",
    ),
  ]),
  // the reserved words: all ones in chronyd 4.3's NTP_DATA and 4.8's NTP_DATA2 (captured)
  spec(Rpy.NTP_DATA, "ntp_data", "report", [...NTP_DATA, pad(12, 0xff)], {
    reply: { v2: false },
  }),
  spec(Rpy.NTP_DATA2, "ntp_data", "report", [
    ...NTP_DATA,
    ...same<NtpDataReport>("u32", "totalKernelTxTs", "totalKernelRxTs"),
    ...same<NtpDataReport>("u32", "totalHwTxTs", "totalHwRxTs"),
    pad(16, 0xff),
  ], { reply: { v2: true } }),
  spec(
    Rpy.NTP_SOURCE_NAME,
    "ntp_source_name",
    "",
    [["name", "name"]],
  ),
  spec(Rpy.AUTH_DATA, "auth_data", "report", AUTH_DATA),
  spec(Rpy.SELECT_DATA, "select_data", "report", SELECT_DATA),
];

const BY_CODE = new Map(REPLY_TABLE.map((s) => [s.code, s]));
const BY_KIND = new Map<ReplyKind, ReplySpec[]>();
for (const s of REPLY_TABLE) BY_KIND.set(s.kind, [...(BY_KIND.get(s.kind) ?? []), s]);
/** Per row, the fields other versions of its kind have and it lacks: they decode as zero. */
const LACKING = new Map<ReplySpec, Layout>(REPLY_TABLE.map((s) => {
  const own = new Set(s.layout.map(([name]) => name));
  const others = (BY_KIND.get(s.kind) ?? []).flatMap((o) => o.layout);
  return [s, others.filter(([name]) => name !== "" && !own.has(name))];
}));
const BODY_LENGTH = new Map(REPLY_TABLE.map((s) => [s.code, layoutSize(s.layout)]));

/** The fields of a reply's body (its record, or the reply itself). */
function bodyOf(spec: ReplySpec, reply: Reply): Record<string, unknown> {
  const r = reply as unknown as Record<string, unknown>;
  return spec.holder === "" ? r : (r[spec.holder] as Record<string, unknown>) ?? {};
}

function marked(have: Record<string, unknown>, marks: Readonly<Record<string, unknown>> = {}) {
  return Object.entries(marks).every(([k, v]) => have[k] === v);
}

/** The table row that encodes this reply: the first of its kind whose marks match, else the newest. */
export function replySpecOf(reply: Reply): ReplySpec {
  const specs = BY_KIND.get(reply.kind) ?? [];
  const r = reply as unknown as Record<string, unknown>;
  return specs.find((s) => marked(r, s.marks.reply) && marked(bodyOf(s, reply), s.marks.record)) ??
    specs[specs.length - 1]!;
}

/** The table row of a reply code, or undefined for codes horae does not know. */
export function replySpecByCode(code: number): ReplySpec | undefined {
  return BY_CODE.get(code);
}

/**
 * The `Reply` a row makes of a body's fields: every field of the kind's
 * versions (zero when this version lacks it), then `fields`, then the marks.
 */
export function replyOf(spec: ReplySpec, fields: Record<string, unknown>): Reply {
  return build(spec, Object.assign(zeroFields(spec.layout), fields));
}

/** `replyOf` on a record it may change (decoded fields). */
function build(spec: ReplySpec, record: Record<string, unknown>): Reply {
  zeroFields(LACKING.get(spec) ?? [], record);
  Object.assign(record, spec.marks.record);
  const out = spec.holder === ""
    ? { kind: spec.kind, ...record, ...spec.marks.reply }
    : { kind: spec.kind, [spec.holder]: record, ...spec.marks.reply };
  return out as unknown as Reply;
}

/** A server-stats report with every counter zero. */
export function emptyServerStats(version: 1 | 2 | 3 | 4 = 4): ServerStatsReport {
  const rows = BY_KIND.get("server_stats") ?? [];
  const row = rows.find((s) => s.marks.record?.version === version) ?? rows[rows.length - 1]!;
  return (replyOf(row, {}) as Of<"server_stats">).report;
}

/** Length (bytes) of a whole reply packet with this reply code; undefined for unknown codes. */
export function replyLength(code: number): number | undefined {
  const b = BODY_LENGTH.get(code);
  return b === undefined ? undefined : REPLY_HEADER_LENGTH + b;
}

/** Length (bytes) of the packet `encodeReply` makes for this reply. */
export function encodedReplyLength(reply: Reply): number {
  return REPLY_HEADER_LENGTH + BODY_LENGTH.get(replySpecOf(reply).code)!;
}

/** Encodes a reply packet: header (version 6, type 2) and body in chrony's layout. */
export function encodeReply(
  reply: Reply,
  header: { command: number; status: number; sequence: number },
): Uint8Array {
  const spec = replySpecOf(reply);
  const w = new WireWriter(REPLY_HEADER_LENGTH + BODY_LENGTH.get(spec.code)!);
  writeFields(w, REPLY_HEADER, {
    version: PROTO_VERSION,
    pktType: PKT_TYPE_REPLY,
    command: header.command,
    reply: spec.code,
    status: header.status,
    sequence: header.sequence,
  });
  writeFields(w, spec.layout, bodyOf(spec, reply));
  return w.bytes;
}

/** Reads the 28-byte reply header; throws `WireError` when shorter. */
export function decodeReplyHeader(bytes: Uint8Array): ReplyHeader {
  return readFields(new WireReader(bytes), REPLY_HEADER) as unknown as ReplyHeader;
}

/**
 * Decodes a reply packet. Throws `WireError` on short packets, unknown reply
 * types and lists counting more entries than their slots.
 */
export function decodeReply(bytes: Uint8Array): { header: ReplyHeader; reply: Reply } {
  const header = decodeReplyHeader(bytes);
  const spec = BY_CODE.get(header.reply);
  if (spec === undefined) throw new WireError(`unknown reply type ${header.reply}`);
  const len = REPLY_HEADER_LENGTH + BODY_LENGTH.get(spec.code)!;
  if (bytes.length < len) {
    throw new WireError(`reply type ${header.reply} needs ${len} bytes, got ${bytes.length}`);
  }
  const fields = readFields(new WireReader(bytes, REPLY_HEADER_LENGTH), spec.layout);
  return { header, reply: build(spec, fields) };
}
