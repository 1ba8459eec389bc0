/**
 * Daemon side of cmdmon, sans-IO: `handleRequest` validates a request packet
 * the way chronyd 4.x does (drop, BADPKTVERSION, INVALID, BADPKTLENGTH),
 * applies the command permissions (over the network only monitoring commands;
 * others get UNAUTH, "501 Not authorised"), the `cmdallow`/`cmddeny` and
 * `cmdratelimit` hooks, and dispatches to a `CmdmonBackend`. A backend method
 * that is absent means the feature is not built: the reply carries the status
 * chronyd gives for it (NORTC, NOTENABLED, or FAILED).
 *
 * @example
 * ```ts
 * import { handleRequest } from "./handlers.ts";
 * import { encodeRequest } from "./request.ts";
 * const req = encodeRequest({ kind: "n_sources" }, { sequence: 1, attempt: 0 });
 * handleRequest(req, { fromUnixSocket: true }, { nSources: () => 0 }); // a reply packet
 * ```
 * @module
 */

import type { Timestamp } from "../time/timestamp.ts";
import {
  type CmdAddress,
  PKT_TYPE_REQUEST,
  PROTO_VERSION,
  PROTO_VERSION_MISMATCH_COMPAT_SERVER,
  REPLY_HEADER_LENGTH,
  REQUEST_HEADER_LENGTH,
  Status,
  type StatusCode,
} from "./wire.ts";
import {
  decodeRequest,
  decodeRequestHeader,
  minRequestLength,
  type Request,
  type RequestKind,
  requestKindOf,
} from "./request.ts";
import {
  type ActivityReport,
  type AuthDataReport,
  type ClientAccessesPage,
  encodedReplyLength,
  encodeReply,
  type ManualSample,
  type ManualTimestampReport,
  type NtpDataReport,
  type Reply,
  type RtcReport,
  type SelectDataReport,
  type ServerStatsReport,
  type SmoothingReport,
  type SourceReport,
  type SourceStatsReport,
  type TrackingReport,
} from "./reports.ts";

/** A result, or a status explaining why there is none (e.g. NOSUCHSOURCE). */
export type Maybe<T> = T | { status: StatusCode };

/** Requests that change state; carried to `CmdmonBackend.control`. */
export type ControlRequest = Exclude<
  Request,
  {
    kind:
      | "null"
      | "n_sources"
      | "source_data"
      | "tracking"
      | "sourcestats"
      | "rtcreport"
      | "manual_list"
      | "activity"
      | "smoothing"
      | "server_stats"
      | "ntp_data"
      | "ntp_source_name"
      | "auth_data"
      | "client_accesses_by_index3"
      | "select_data"
      | "settime";
  }
>;

/**
 * What the daemon offers to cmdmon. Every method is optional: an absent
 * method means the feature is not built into this daemon.
 */
export interface CmdmonBackend {
  nSources?(): number;
  /** `index` 0-based; NOSUCHSOURCE when out of range. */
  sourceData?(index: number): Maybe<SourceReport>;
  tracking?(): TrackingReport;
  sourceStats?(index: number): Maybe<SourceStatsReport>;
  selectData?(index: number): Maybe<SelectDataReport>;
  activity?(): ActivityReport;
  /** Counters; the handler picks the v3 or v4 layout to fit the request. */
  serverStats?(): ServerStatsReport;
  /** Clients from `firstIndex` (at most `nClients`); INACTIVE when client logging is off. */
  clientAccesses?(
    first: number,
    options: { nClients: number; minHits: number; reset: boolean },
  ): Maybe<ClientAccessesPage>;
  ntpData?(address: CmdAddress): Maybe<NtpDataReport>;
  authData?(address: CmdAddress): Maybe<AuthDataReport>;
  sourceName?(address: CmdAddress): Maybe<string>;
  manualList?(): Maybe<ManualSample[]>;
  rtcReport?(): Maybe<RtcReport>;
  smoothing?(): Maybe<SmoothingReport>;
  /** `settime`: a manual timestamp. */
  settime?(ts: Timestamp): Maybe<ManualTimestampReport>;
  /** Every control command; returns chronyd's status (SUCCESS, NOSUCHSOURCE, ACCESSALLOWED, ...). */
  control?(req: ControlRequest): StatusCode;
}

/** Where a request came from, and the daemon's access hooks. */
export interface RequestContext {
  /** True for the Unix command socket: everything is allowed there. */
  fromUnixSocket: boolean;
  /** Sender's address (network requests). */
  address?: CmdAddress;
  /** `cmdallow`/`cmddeny`: false drops the request silently, like chronyd. */
  cmdAllowed?: (address: CmdAddress) => boolean;
  /** `cmdratelimit`: true drops this request silently (asked for network requests from other hosts). */
  rateLimited?: (address: CmdAddress) => boolean;
  /** Counts a request that is not rate limited (Unix socket, localhost): "Command packets received". */
  counted?: (address: CmdAddress | undefined) => void;
  /** `opencommands` (chronyd 4.7+) as request kinds ({@link openRequestKinds}); default 4.3's set. */
  openKinds?: ReadonlySet<RequestKind>;
}

/** chronyd cmdmon.c: commands open to network clients (PERMIT_OPEN); the rest need the Unix socket. */
const OPEN_OVER_NETWORK: ReadonlySet<RequestKind> = new Set<RequestKind>([
  "null",
  "n_sources",
  "source_data",
  "tracking",
  "sourcestats",
  "rtcreport",
  "manual_list",
  "activity",
  "smoothing",
  "ntp_source_name",
]);

/** Request kinds each `opencommands` name opens (a listing also needs the source count). */
const OPEN_COMMAND_KINDS: Readonly<Record<string, readonly RequestKind[]>> = {
  activity: ["activity"],
  authdata: ["n_sources", "auth_data"],
  clients: ["client_accesses_by_index3"],
  manual: ["manual_list"],
  ntpdata: ["ntp_data"],
  rtcdata: ["rtcreport"],
  selectdata: ["n_sources", "select_data"],
  serverstats: ["server_stats"],
  smoothing: ["smoothing"],
  sourcename: ["ntp_source_name"],
  sources: ["n_sources", "source_data"],
  sourcestats: ["n_sources", "sourcestats"],
  tracking: ["tracking"],
};

/**
 * The request kinds open to `cmdallow` hosts for an `opencommands` list
 * (chronyc's command names); `null` is always open.
 */
export function openRequestKinds(commands: readonly string[]): Set<RequestKind> {
  const out = new Set<RequestKind>(["null"]);
  for (const c of commands) for (const k of OPEN_COMMAND_KINDS[c] ?? []) out.add(k);
  return out;
}

/**
 * The two addresses chronyd exempts from `cmdallow`/`cmddeny` and
 * `cmdratelimit`: 127.0.0.1 and ::1 exactly. Other 127.x addresses are
 * ordinary network clients (any local user can send from them).
 */
export function isLocalhost(a: CmdAddress | undefined): boolean {
  return a !== undefined &&
    ((a.family === "inet4" && a.address === "127.0.0.1") ||
      (a.family === "inet6" && a.address === "::1"));
}

function isStatus(x: unknown): x is { status: StatusCode } {
  return typeof x === "object" && x !== null && "status" in x;
}

/** Status chronyd gives for a control whose facility is not built. */
function notBuiltStatus(kind: RequestKind): StatusCode {
  switch (kind) {
    case "writertc":
    case "trimrtc":
    case "rtcreport":
      return Status.NORTC;
    case "smoothtime":
    case "smoothing":
    case "manual":
    case "manual_delete":
    case "manual_list":
    case "settime":
      return Status.NOTENABLED;
    default:
      return Status.FAILED;
  }
}

interface Outcome {
  status: StatusCode;
  reply: Reply;
}

const NULL_REPLY: Reply = { kind: "null" };

function fail(status: StatusCode): Outcome {
  return { status, reply: NULL_REPLY };
}

function lift<T>(x: Maybe<T> | undefined, kind: RequestKind, mk: (v: T) => Reply): Outcome {
  if (x === undefined) return fail(notBuiltStatus(kind));
  if (isStatus(x)) return fail(x.status);
  return { status: Status.SUCCESS, reply: mk(x) };
}

function dispatch(req: Request, length: number, b: CmdmonBackend): Outcome {
  switch (req.kind) {
    case "null":
      return fail(Status.SUCCESS);
    case "n_sources":
      return lift(b.nSources?.(), req.kind, (nSources) => ({ kind: "n_sources", nSources }));
    case "source_data":
      return lift(b.sourceData?.(req.index), req.kind, (report) => ({
        kind: "source_data",
        report,
      }));
    case "tracking":
      return lift(b.tracking?.(), req.kind, (report) => ({ kind: "tracking", report }));
    case "sourcestats":
      return lift(b.sourceStats?.(req.index), req.kind, (report) => ({
        kind: "sourcestats",
        report,
      }));
    case "select_data":
      return lift(b.selectData?.(req.index), req.kind, (report) => ({
        kind: "select_data",
        report,
      }));
    case "activity":
      return lift(b.activity?.(), req.kind, (report) => ({ kind: "activity", report }));
    case "server_stats":
      return lift(b.serverStats?.(), req.kind, (report) => {
        // the newest layout that fits the request: a reply is never longer than its request
        const v4: Reply = { kind: "server_stats", report: { ...report, version: 4 } };
        return encodedReplyLength(v4) <= length
          ? v4
          : { kind: "server_stats", report: { ...report, version: 3 } };
      });
    case "client_accesses_by_index3":
      return lift(
        b.clientAccesses?.(req.firstIndex, {
          nClients: Math.min(req.nClients, 8),
          minHits: req.minHits,
          reset: req.reset !== 0,
        }),
        req.kind,
        (page) => ({ kind: "client_accesses", page }),
      );
    case "ntp_data":
      return lift(b.ntpData?.(req.ip), req.kind, (report) => {
        const v2: Reply = { kind: "ntp_data", report, v2: true };
        return encodedReplyLength(v2) <= length ? v2 : { kind: "ntp_data", report, v2: false };
      });
    case "auth_data":
      return lift(b.authData?.(req.ip), req.kind, (report) => ({ kind: "auth_data", report }));
    case "ntp_source_name":
      return lift(b.sourceName?.(req.ip), req.kind, (name) => ({ kind: "ntp_source_name", name }));
    case "manual_list":
      return lift(b.manualList?.(), req.kind, (samples) => ({ kind: "manual_list", samples }));
    case "rtcreport":
      return lift(b.rtcReport?.(), req.kind, (report) => ({ kind: "rtc", report }));
    case "smoothing":
      return lift(b.smoothing?.(), req.kind, (report) => ({ kind: "smoothing", report }));
    case "settime":
      return lift(b.settime?.(req.ts), req.kind, (report) => ({
        kind: "manual_timestamp",
        report,
      }));
    default:
      return fail(b.control ? b.control(req) : notBuiltStatus(req.kind));
  }
}

/**
 * Handles one request packet; returns the reply bytes, or null when chronyd
 * would send nothing (malformed header, denied host, rate limited).
 */
export function handleRequest(
  bytes: Uint8Array,
  ctx: RequestContext,
  backend: CmdmonBackend,
): Uint8Array | null {
  // cmdmon.c: too short for a header, or an error reply would exceed the request
  if (bytes.length < REQUEST_HEADER_LENGTH || bytes.length < REPLY_HEADER_LENGTH) return null;
  const h = decodeRequestHeader(bytes);
  if (h.pktType !== PKT_TYPE_REQUEST || h.res1 !== 0 || h.res2 !== 0) return null;
  const local = ctx.fromUnixSocket || isLocalhost(ctx.address);
  if (!local && ctx.address) {
    if (ctx.cmdAllowed && !ctx.cmdAllowed(ctx.address)) return null;
    if (ctx.rateLimited?.(ctx.address)) return null;
  } else {
    ctx.counted?.(ctx.fromUnixSocket ? undefined : ctx.address);
  }
  const reply = (o: Outcome): Uint8Array | null => {
    const out = encodeReply(o.reply, {
      command: h.command,
      status: o.status,
      sequence: h.sequence,
    });
    return out.length > bytes.length ? null : out;
  };
  if (h.version !== PROTO_VERSION) {
    return h.version >= PROTO_VERSION_MISMATCH_COMPAT_SERVER
      ? reply(fail(Status.BADPKTVERSION))
      : null;
  }
  const kind = requestKindOf(h.command);
  if (kind === undefined) return reply(fail(Status.INVALID));
  if (bytes.length < minRequestLength(kind)) return reply(fail(Status.BADPKTLENGTH));
  const open = ctx.openKinds ?? OPEN_OVER_NETWORK;
  if (!ctx.fromUnixSocket && !open.has(kind)) return reply(fail(Status.UNAUTH));
  return reply(dispatch(decodeRequest(bytes, kind), bytes.length, backend));
}
