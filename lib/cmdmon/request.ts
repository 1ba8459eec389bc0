/**
 * cmdmon requests: the native `Request` union, the data layout of every
 * request chronyc 4.3-4.8 sends (candm.h `REQ_*` structs), the padded
 * lengths (a request is at least as long as its longest reply, so the daemon
 * never amplifies), and `encodeRequest`/`decodeRequest`.
 *
 * @example
 * ```ts
 * import { encodeRequest } from "./request.ts";
 * const bytes = encodeRequest({ kind: "tracking" }, { sequence: 1, attempt: 0 });
 * bytes.length; // 104: padded to the tracking reply
 * ```
 * @module
 */

import type { Timestamp } from "../time/timestamp.ts";
import {
  type CmdAddress,
  PKT_TYPE_REQUEST,
  PROTO_VERSION,
  REPLY_HEADER_LENGTH,
  Req,
  REQUEST_HEADER_LENGTH,
  WireReader,
  WireWriter,
} from "./wire.ts";

/** candm.h REQ_ADDSRC_* source types. */
export const AddSrcType = { SERVER: 1, PEER: 2, POOL: 3 } as const;
/** candm.h REQ_ADDSRC_* flags. */
export const AddSrcFlag = {
  ONLINE: 0x1,
  AUTOOFFLINE: 0x2,
  IBURST: 0x4,
  PREFER: 0x8,
  NOSELECT: 0x10,
  TRUST: 0x20,
  REQUIRE: 0x40,
  INTERLEAVED: 0x80,
  BURST: 0x100,
  NTS: 0x200,
  COPY: 0x400,
  EF_EXP_MONO_ROOT: 0x800,
  EF_NET_CORRECTION: 0x1000,
  IPV4: 0x2000,
  IPV6: 0x4000,
} as const;

/** Parameters of `add server|peer|pool` (candm.h REQ_NTP_Source), native units: seconds, log2 s. */
export interface AddSourceParams {
  type: number;
  name: string;
  port: number;
  minpoll: number;
  maxpoll: number;
  presendMinpoll: number;
  minStratum: number;
  pollTarget: number;
  version: number;
  maxSources: number;
  minSamples: number;
  maxSamples: number;
  authkey: number;
  ntsPort: number;
  /** seconds */
  maxDelay: number;
  maxDelayRatio: number;
  maxDelayDevRatio: number;
  /** seconds */
  minDelay: number;
  asymmetry: number;
  /** seconds */
  offset: number;
  flags: number;
  filterLength: number;
  certSet: number;
  /** seconds */
  maxDelayQuant: number;
  maxUnreach: number;
}

/** Field kinds of the table-driven layouts. */
type Kind = "i32" | "u32" | "float" | "addr" | "ts" | "name";
type Layout = readonly (readonly [string, Kind])[];

/** Native value of each field kind. */
type FieldValue = number | CmdAddress | Timestamp | string;

/**
 * Every request as a tagged object. Field names are chrony's (camelCase);
 * addresses are `CmdAddress`, times `Timestamp`, floats in seconds or ppm.
 */
export type Request =
  | {
    kind:
      | "null"
      | "n_sources"
      | "rekey"
      | "writertc"
      | "tracking"
      | "rtcreport"
      | "trimrtc"
      | "cyclelogs"
      | "manual_list"
      | "makestep"
      | "activity"
      | "reselect"
      | "smoothing"
      | "refresh"
      | "server_stats"
      | "shutdown"
      | "onoffline"
      | "reset_sources"
      | "reload_sources";
  }
  | { kind: "dump" }
  | { kind: "online" | "offline"; mask: CmdAddress; address: CmdAddress }
  | {
    kind: "burst";
    mask: CmdAddress;
    address: CmdAddress;
    nGoodSamples: number;
    nTotalSamples: number;
  }
  | {
    kind: "modify_minpoll" | "modify_maxpoll" | "modify_minstratum" | "modify_polltarget";
    address: CmdAddress;
    value: number;
  }
  | {
    kind: "modify_maxdelay" | "modify_maxdelayratio" | "modify_maxdelaydevratio";
    address: CmdAddress;
    value: number;
  }
  | { kind: "modify_maxupdateskew"; value: number }
  | { kind: "modify_makestep"; limit: number; threshold: number }
  | { kind: "settime"; ts: Timestamp }
  | { kind: "local2"; onOff: number; stratum: number; distance: number; orphan: number }
  | {
    kind: "local3";
    onOff: number;
    stratum: number;
    distance: number;
    orphan: number;
    activate: number;
    waitSynced: number;
    waitUnsynced: number;
  }
  | { kind: "manual"; option: number }
  | { kind: "source_data" | "sourcestats" | "select_data" | "manual_delete"; index: number }
  | {
    kind:
      | "allow"
      | "allowall"
      | "deny"
      | "denyall"
      | "cmdallow"
      | "cmdallowall"
      | "cmddeny"
      | "cmddenyall";
    ip: CmdAddress;
    subnetBits: number;
  }
  | {
    kind: "accheck" | "cmdaccheck" | "del_source" | "ntp_data" | "ntp_source_name" | "auth_data";
    ip: CmdAddress;
  }
  | { kind: "dfreq"; value: number }
  | { kind: "doffset2"; value: number }
  | { kind: "reselectdistance"; value: number }
  | { kind: "smoothtime"; option: number }
  | {
    kind: "client_accesses_by_index3";
    firstIndex: number;
    nClients: number;
    minHits: number;
    reset: number;
  }
  | { kind: "modify_selectopts"; address: CmdAddress; refId: number; mask: number; options: number }
  | { kind: "modify_offset"; address: CmdAddress; refId: number; value: number }
  | ({ kind: "add_source" } & AddSourceParams);

/** The `kind` strings of `Request`. */
export type RequestKind = Request["kind"];

const IP_MASK_ADDR: Layout = [["mask", "addr"], ["address", "addr"]];
const ADDR_INT: Layout = [["address", "addr"], ["value", "i32"]];
const ADDR_FLOAT: Layout = [["address", "addr"], ["value", "float"]];
const ALLOW_DENY: Layout = [["ip", "addr"], ["subnetBits", "i32"]];
const IP_ONLY: Layout = [["ip", "addr"]];
const INDEX: Layout = [["index", "i32"]];

/** Request layouts (candm.h REQ_* structs, EOR excluded) and the replies that bound their padding. */
interface RequestSpec {
  code: number;
  layout: Layout;
  /** Longest reply body any supported chronyd version sends (bytes, after the 28-byte header). */
  maxReplyBody: number;
  /** Longest reply body chronyd 4.3 sends: what a chronyc 4.3 pads to (bytes). */
  minReplyBody: number;
}

function spec(code: number, layout: Layout, minReplyBody = 0, maxReplyBody = minReplyBody) {
  return { code, layout, minReplyBody, maxReplyBody };
}

const ADD_SOURCE_LAYOUT: Layout = [
  ["type", "u32"],
  ["name", "name"],
  ["port", "u32"],
  ["minpoll", "i32"],
  ["maxpoll", "i32"],
  ["presendMinpoll", "i32"],
  ["minStratum", "u32"],
  ["pollTarget", "u32"],
  ["version", "u32"],
  ["maxSources", "u32"],
  ["minSamples", "i32"],
  ["maxSamples", "i32"],
  ["authkey", "u32"],
  ["ntsPort", "u32"],
  ["maxDelay", "float"],
  ["maxDelayRatio", "float"],
  ["maxDelayDevRatio", "float"],
  ["minDelay", "float"],
  ["asymmetry", "float"],
  ["offset", "float"],
  ["flags", "u32"],
  ["filterLength", "i32"],
  ["certSet", "u32"],
  ["maxDelayQuant", "float"],
  ["maxUnreach", "i32"],
];

/**
 * Reply body sizes (bytes) used for padding: candm.h RPY_* structs; sizes
 * confirmed by chronyc 4.3 request lengths captured with strace.
 */
const BODY = {
  nSources: 4,
  sourceData: 48,
  tracking: 76,
  sourcestats: 56,
  rtc: 28,
  manualTimestamp: 12,
  clientAccesses: 12 + 8 * 60,
  manualList: 4 + 16 * 24,
  activity: 20,
  smoothing: 24,
  serverStats3: 44,
  serverStats4: 21 * 8,
  ntpData: 124,
  ntpData2: 144,
  sourceName: 256,
  authData: 24,
  selectData: 48,
} as const;

/** Spec of each request kind. */
const SPECS: Record<RequestKind, RequestSpec> = {
  null: spec(Req.NULL, []),
  online: spec(Req.ONLINE, IP_MASK_ADDR),
  offline: spec(Req.OFFLINE, IP_MASK_ADDR),
  burst: spec(Req.BURST, [...IP_MASK_ADDR, ["nGoodSamples", "i32"], ["nTotalSamples", "i32"]]),
  modify_minpoll: spec(Req.MODIFY_MINPOLL, ADDR_INT),
  modify_maxpoll: spec(Req.MODIFY_MAXPOLL, ADDR_INT),
  dump: spec(Req.DUMP, [["pad", "i32"]]),
  modify_maxdelay: spec(Req.MODIFY_MAXDELAY, ADDR_FLOAT),
  modify_maxdelayratio: spec(Req.MODIFY_MAXDELAYRATIO, ADDR_FLOAT),
  modify_maxupdateskew: spec(Req.MODIFY_MAXUPDATESKEW, [["value", "float"]]),
  settime: spec(Req.SETTIME, [["ts", "ts"]], BODY.manualTimestamp),
  manual: spec(Req.MANUAL, [["option", "i32"]]),
  n_sources: spec(Req.N_SOURCES, [], BODY.nSources),
  source_data: spec(Req.SOURCE_DATA, INDEX, BODY.sourceData),
  rekey: spec(Req.REKEY, []),
  allow: spec(Req.ALLOW, ALLOW_DENY),
  allowall: spec(Req.ALLOWALL, ALLOW_DENY),
  deny: spec(Req.DENY, ALLOW_DENY),
  denyall: spec(Req.DENYALL, ALLOW_DENY),
  cmdallow: spec(Req.CMDALLOW, ALLOW_DENY),
  cmdallowall: spec(Req.CMDALLOWALL, ALLOW_DENY),
  cmddeny: spec(Req.CMDDENY, ALLOW_DENY),
  cmddenyall: spec(Req.CMDDENYALL, ALLOW_DENY),
  accheck: spec(Req.ACCHECK, IP_ONLY),
  cmdaccheck: spec(Req.CMDACCHECK, IP_ONLY),
  del_source: spec(Req.DEL_SOURCE, IP_ONLY),
  writertc: spec(Req.WRITERTC, []),
  dfreq: spec(Req.DFREQ, [["value", "float"]]),
  tracking: spec(Req.TRACKING, [], BODY.tracking),
  sourcestats: spec(Req.SOURCESTATS, INDEX, BODY.sourcestats),
  rtcreport: spec(Req.RTCREPORT, [], BODY.rtc),
  trimrtc: spec(Req.TRIMRTC, []),
  cyclelogs: spec(Req.CYCLELOGS, []),
  manual_list: spec(Req.MANUAL_LIST, [], BODY.manualList),
  manual_delete: spec(Req.MANUAL_DELETE, INDEX),
  makestep: spec(Req.MAKESTEP, []),
  activity: spec(Req.ACTIVITY, [], BODY.activity),
  modify_minstratum: spec(Req.MODIFY_MINSTRATUM, ADDR_INT),
  modify_polltarget: spec(Req.MODIFY_POLLTARGET, ADDR_INT),
  modify_maxdelaydevratio: spec(Req.MODIFY_MAXDELAYDEVRATIO, ADDR_FLOAT),
  reselect: spec(Req.RESELECT, []),
  reselectdistance: spec(Req.RESELECTDISTANCE, [["value", "float"]]),
  modify_makestep: spec(Req.MODIFY_MAKESTEP, [["limit", "i32"], ["threshold", "float"]]),
  smoothing: spec(Req.SMOOTHING, [], BODY.smoothing),
  smoothtime: spec(Req.SMOOTHTIME, [["option", "i32"]]),
  refresh: spec(Req.REFRESH, []),
  server_stats: spec(Req.SERVER_STATS, [], BODY.serverStats3, BODY.serverStats4),
  local2: spec(Req.LOCAL2, [
    ["onOff", "i32"],
    ["stratum", "i32"],
    ["distance", "float"],
    ["orphan", "i32"],
  ]),
  ntp_data: spec(Req.NTP_DATA, IP_ONLY, BODY.ntpData, BODY.ntpData2),
  shutdown: spec(Req.SHUTDOWN, []),
  onoffline: spec(Req.ONOFFLINE, []),
  add_source: spec(Req.ADD_SOURCE, ADD_SOURCE_LAYOUT),
  ntp_source_name: spec(Req.NTP_SOURCE_NAME, IP_ONLY, BODY.sourceName),
  reset_sources: spec(Req.RESET_SOURCES, []),
  auth_data: spec(Req.AUTH_DATA, IP_ONLY, BODY.authData),
  client_accesses_by_index3: spec(Req.CLIENT_ACCESSES_BY_INDEX3, [
    ["firstIndex", "u32"],
    ["nClients", "u32"],
    ["minHits", "u32"],
    ["reset", "u32"],
  ], BODY.clientAccesses),
  select_data: spec(Req.SELECT_DATA, INDEX, BODY.selectData),
  reload_sources: spec(Req.RELOAD_SOURCES, []),
  doffset2: spec(Req.DOFFSET2, [["value", "float"]]),
  modify_selectopts: spec(Req.MODIFY_SELECTOPTS, [
    ["address", "addr"],
    ["refId", "u32"],
    ["mask", "u32"],
    ["options", "u32"],
  ]),
  modify_offset: spec(Req.MODIFY_OFFSET, [["address", "addr"], ["refId", "u32"], [
    "value",
    "float",
  ]]),
  local3: spec(Req.LOCAL3, [
    ["onOff", "i32"],
    ["stratum", "i32"],
    ["distance", "float"],
    ["orphan", "i32"],
    ["activate", "float"],
    ["waitSynced", "float"],
    ["waitUnsynced", "float"],
  ]),
};

const BY_CODE = new Map<number, RequestKind>(
  (Object.entries(SPECS) as [RequestKind, RequestSpec][]).map(([k, s]) => [s.code, k]),
);

function kindSize(k: Kind): number {
  switch (k) {
    case "addr":
      return 20;
    case "ts":
      return 12;
    case "name":
      return 256;
    default:
      return 4;
  }
}

function dataLength(layout: Layout): number {
  return layout.reduce((n, [, k]) => n + kindSize(k), 0);
}

/** The request kind of a command code, or undefined for codes horae does not serve. */
export function requestKindOf(code: number): RequestKind | undefined {
  return BY_CODE.get(code);
}

/** The command code of a request kind. */
export function requestCode(kind: RequestKind): number {
  return SPECS[kind].code;
}

/**
 * Minimum length (bytes) of a valid request of this kind: header plus data,
 * padded to chronyd 4.3's reply (what chronyd checks as `PKL_CommandLength`).
 */
export function minRequestLength(kind: RequestKind): number {
  const s = SPECS[kind];
  return Math.max(
    REQUEST_HEADER_LENGTH + dataLength(s.layout),
    REPLY_HEADER_LENGTH + s.minReplyBody,
  );
}

/** Length (bytes) horae's chronyc sends: padded to the longest reply of any chronyd version. */
export function sendRequestLength(kind: RequestKind): number {
  const s = SPECS[kind];
  return Math.max(
    REQUEST_HEADER_LENGTH + dataLength(s.layout),
    REPLY_HEADER_LENGTH + s.maxReplyBody,
  );
}

/** Header fields of a request. */
export interface RequestHeader {
  version: number;
  pktType: number;
  res1: number;
  res2: number;
  command: number;
  attempt: number;
  sequence: number;
}

/** Encodes a request with its header, padded by `sendRequestLength` (or `options.length`). */
export function encodeRequest(
  req: Request,
  options: { sequence: number; attempt: number; length?: number },
): Uint8Array {
  const s = SPECS[req.kind];
  const w = new WireWriter(options.length ?? sendRequestLength(req.kind));
  w.u8(PROTO_VERSION);
  w.u8(PKT_TYPE_REQUEST);
  w.u8(0);
  w.u8(0);
  w.u16(s.code);
  w.u16(options.attempt);
  w.u32(options.sequence);
  w.u32(0);
  w.u32(0);
  const fields = req as unknown as Record<string, FieldValue>;
  for (const [name, kind] of s.layout) {
    const v = fields[name];
    switch (kind) {
      case "addr":
        w.address((v ?? { family: "unspec" }) as CmdAddress);
        break;
      case "ts":
        w.timespec(typeof v === "bigint" ? v : 0n);
        break;
      case "name":
        w.string(typeof v === "string" ? v : "", 256);
        break;
      case "float":
        w.float(typeof v === "number" ? v : 0);
        break;
      case "u32":
        w.u32(typeof v === "number" ? v : 0);
        break;
      case "i32":
        w.i32(typeof v === "number" ? v : 0);
        break;
    }
  }
  return w.bytes;
}

/** Reads the 20-byte request header; throws `WireError` when shorter. */
export function decodeRequestHeader(bytes: Uint8Array): RequestHeader {
  const r = new WireReader(bytes);
  const version = r.u8();
  const pktType = r.u8();
  const res1 = r.u8();
  const res2 = r.u8();
  const command = r.u16();
  const attempt = r.u16();
  const sequence = r.u32();
  return { version, pktType, res1, res2, command, attempt, sequence };
}

/** Decodes the data of a request of known kind (length already validated). */
export function decodeRequest(bytes: Uint8Array, kind: RequestKind): Request {
  const r = new WireReader(bytes, REQUEST_HEADER_LENGTH);
  const out: Record<string, FieldValue> = { kind };
  for (const [name, k] of SPECS[kind].layout) {
    switch (k) {
      case "addr":
        out[name] = r.address();
        break;
      case "ts":
        out[name] = r.timespec();
        break;
      case "name":
        out[name] = r.string(256);
        break;
      case "float":
        out[name] = r.float();
        break;
      case "u32":
        // the last ADD_SOURCE word (max_unreach) was reserved before 4.6; absent is zero
        out[name] = r.offset + 4 <= bytes.length ? r.u32() : 0;
        break;
      case "i32":
        out[name] = r.offset + 4 <= bytes.length ? r.i32() : 0;
        break;
    }
  }
  return out as unknown as Request;
}
