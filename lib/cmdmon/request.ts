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
import { type Layout, layoutSize, pad, readFields, same, writeFields } from "./layouts.ts";
import { replyLength } from "./reports.ts";
import {
  type CmdAddress,
  PKT_TYPE_REQUEST,
  PROTO_VERSION,
  REPLY_HEADER_LENGTH,
  Req,
  REQUEST_HEADER_LENGTH,
  Rpy,
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

/** Reply body length (bytes) of a reply code, from the reply layouts (reports.ts). */
function replyBody(code: number): number {
  return (replyLength(code) ?? REPLY_HEADER_LENGTH) - REPLY_HEADER_LENGTH;
}

/** Reply body sizes (bytes) used for padding: confirmed by chronyc 4.3's captured request lengths. */
const BODY = {
  nSources: replyBody(Rpy.N_SOURCES),
  sourceData: replyBody(Rpy.SOURCE_DATA),
  tracking: replyBody(Rpy.TRACKING),
  sourcestats: replyBody(Rpy.SOURCESTATS),
  rtc: replyBody(Rpy.RTC),
  manualTimestamp: replyBody(Rpy.MANUAL_TIMESTAMP2),
  clientAccesses: replyBody(Rpy.CLIENT_ACCESSES_BY_INDEX3),
  manualList: replyBody(Rpy.MANUAL_LIST2),
  activity: replyBody(Rpy.ACTIVITY),
  smoothing: replyBody(Rpy.SMOOTHING),
  serverStats3: replyBody(Rpy.SERVER_STATS3),
  serverStats4: replyBody(Rpy.SERVER_STATS4),
  ntpData: replyBody(Rpy.NTP_DATA),
  ntpData2: replyBody(Rpy.NTP_DATA2),
  sourceName: replyBody(Rpy.NTP_SOURCE_NAME),
  authData: replyBody(Rpy.AUTH_DATA),
  selectData: replyBody(Rpy.SELECT_DATA),
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
    REQUEST_HEADER_LENGTH + layoutSize(s.layout),
    REPLY_HEADER_LENGTH + s.minReplyBody,
  );
}

/** Length (bytes) horae's chronyc sends: padded to the longest reply of any chronyd version. */
export function sendRequestLength(kind: RequestKind): number {
  const s = SPECS[kind];
  return Math.max(
    REQUEST_HEADER_LENGTH + layoutSize(s.layout),
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

/** candm.h CMD_Request header: 20 bytes before the data. */
const REQUEST_HEADER: Layout<RequestHeader> = [
  ...same<RequestHeader>("u8", "version", "pktType", "res1", "res2"),
  ...same<RequestHeader>("u16", "command", "attempt"),
  ["sequence", "u32"],
  pad(8),
];

/** Encodes a request with its header, padded by `sendRequestLength` (or `options.length`). */
export function encodeRequest(
  req: Request,
  options: { sequence: number; attempt: number; length?: number },
): Uint8Array {
  const s = SPECS[req.kind];
  const w = new WireWriter(options.length ?? sendRequestLength(req.kind));
  writeFields(w, REQUEST_HEADER, {
    version: PROTO_VERSION,
    pktType: PKT_TYPE_REQUEST,
    command: s.code,
    attempt: options.attempt,
    sequence: options.sequence,
  });
  writeFields(w, s.layout, req as unknown as Record<string, unknown>);
  return w.bytes;
}

/** Reads the 20-byte request header; throws `WireError` when shorter. */
export function decodeRequestHeader(bytes: Uint8Array): RequestHeader {
  return readFields(new WireReader(bytes), REQUEST_HEADER) as unknown as RequestHeader;
}

/** Decodes the data of a request of known kind (length already validated; `WireError` if short). */
export function decodeRequest(bytes: Uint8Array, kind: RequestKind): Request {
  const r = new WireReader(bytes, REQUEST_HEADER_LENGTH);
  return readFields(r, SPECS[kind].layout, { kind }) as unknown as Request;
}
