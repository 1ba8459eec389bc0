/**
 * The JSON schema of the reports (version 1), shared by `chronyc -j` and
 * the daemon's HTTP API (`GET /api/v1/<report>`, lib/http). Field names
 * carry their units (`_seconds`, `_ppm`, `_log2_seconds`, `_unix_seconds`);
 * docs/API.md documents every field. Both users fetch the reports through
 * the same cmdmon requests (`collectReport` with an exchange function:
 * chronyc's over the socket, the daemon's in-process), so the values are the
 * ones `chronyc` prints, to the bit.
 *
 * A document: `{"api_version": 1, "report": NAME, "data": OBJECT | ARRAY}`.
 * Changing a field's meaning or removing one needs version 2 (a new path);
 * adding fields does not.
 *
 * @example
 * ```ts
 * import { trackingJson } from "./json.ts";
 * import type { TrackingReport } from "./reports.ts";
 * function lastOffset(t: TrackingReport) {
 *   return trackingJson(t).last_offset_seconds; // t.lastOffset
 * }
 * ```
 * @module
 */

import type {
  ActivityReport,
  AuthDataReport,
  ClientAccessReport,
  NtpDataReport,
  Reply,
  RtcReport,
  SelectDataReport,
  ServerStatsReport,
  SmoothingReport,
  SourceReport,
  SourceStatsReport,
  TrackingReport,
} from "./reports.ts";
import type { Request } from "./request.ts";
import { type CmdAddress, Status, statusText } from "./wire.ts";
import { type Timestamp, toUnixSeconds } from "../time/timestamp.ts";
import { reasonOfLetter } from "../clock/select.ts";
import { addressRefId, refIdName } from "./format.ts";

/** Version of the schema; also the `/api/v1` path element. */
export const API_VERSION = 1;

/** Reports with a JSON form, in the order of docs/API.md. */
export const JSON_REPORTS = [
  "tracking",
  "sources",
  "sourcestats",
  "selectdata",
  "ntpdata",
  "authdata",
  "activity",
  "serverstats",
  "clients",
  "smoothing",
  "rtcdata",
] as const;

/** Name of a report with a JSON form. */
export type JsonReportName = typeof JSON_REPORTS[number];

/** A JSON value. */
export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** One report as a JSON document. */
export interface ApiDocument {
  api_version: number;
  report: JsonReportName;
  data: Json;
}

/** The daemon refused or lacks the report; `status` is cmdmon's (e.g. 503 for NOTENABLED). */
export class ReportError extends Error {
  override name = "ReportError";
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

/** Sends one request, returns the reply of kind `want` or throws `ReportError`. */
export type Fetch = <K extends Reply["kind"]>(
  req: Request,
  want: K,
) => Promise<Extract<Reply, { kind: K }>>;

/** Wraps an exchange that returns `{status, reply}` (null: no answer) into a `Fetch`. */
export function fetchVia(
  exchange: (req: Request) => Promise<{ status: number; reply: Reply } | null>,
): Fetch {
  return async <K extends Reply["kind"]>(req: Request, want: K) => {
    const r = await exchange(req);
    if (!r) throw new ReportError(506, "506 Cannot talk to daemon");
    if (r.status !== Status.SUCCESS) throw new ReportError(r.status, statusText(r.status));
    if (r.reply.kind !== want) throw new ReportError(-1, "Invalid reply from daemon");
    return r.reply as Extract<Reply, { kind: K }>;
  };
}

/** Extra facts only the daemon knows (the command protocol has no field for them). */
export interface ReportExtras {
  /** Selection reason of the source at report index `i`; absent: the generic text of its state. */
  reason?(i: number): string | undefined;
}

const LEAP = ["normal", "insert", "delete", "unsynchronised"];
const SOURCE_MODE = ["server", "peer", "refclock"];
const SOURCE_STATE = ["selected", "unusable", "falseticker", "jittery", "combined", "not_combined"];
const NTP_MODE = ["reserved", "active", "passive", "client", "server", "broadcast"];
const TSS: Record<string, string> = { D: "daemon", K: "kernel", H: "hardware" };
const NEVER = 0xffffffff;

function hex8(x: number): string {
  return (x >>> 0).toString(16).toUpperCase().padStart(8, "0");
}

/** A refid as text, as chronyc prints it (printable characters only). */
const refIdText = refIdName;

/** An address as text (null for none); refclock and ID addresses become their refid text. */
export function addressJson(a: CmdAddress): string | null {
  if (a.family === "inet4" || a.family === "inet6") return a.address;
  if (a.family === "id") return `ID#${String(a.id).padStart(10, "0")}`;
  return null;
}

function time(t: Timestamp): number {
  return toUnixSeconds(t);
}

function ago(s: number): number | null {
  return s === NEVER ? null : s;
}

/** `tracking`. */
export function trackingJson(t: TrackingReport): { [k: string]: Json } {
  return {
    reference_id: hex8(t.refId),
    reference_name: t.address.family === "unspec" ? refIdText(t.refId) : addressJson(t.address),
    reference_address: addressJson(t.address),
    stratum: t.stratum,
    reference_time_unix_seconds: time(t.refTime),
    system_time_correction_seconds: t.currentCorrection,
    last_offset_seconds: t.lastOffset,
    rms_offset_seconds: t.rmsOffset,
    frequency_ppm: t.freqPpm,
    residual_frequency_ppm: t.residFreqPpm,
    skew_ppm: t.skewPpm,
    root_delay_seconds: t.rootDelay,
    root_dispersion_seconds: t.rootDispersion,
    update_interval_seconds: t.lastUpdateInterval,
    leap_status: LEAP[t.leapStatus] ?? "invalid",
  };
}

/** One `sources` row. */
export function sourceJson(s: SourceReport): { [k: string]: Json } {
  const refclock = s.mode === 2 && s.address.family === "inet4";
  const refid = refclock ? refIdText(addressRefId(s.address)) : null;
  return {
    name: refid ?? addressJson(s.address),
    address: refclock ? null : addressJson(s.address),
    mode: SOURCE_MODE[s.mode] ?? "unknown",
    state: SOURCE_STATE[s.state] ?? "unknown",
    state_char: ["*", "?", "x", "~", "+", "-"][s.state] ?? "?",
    stratum: s.stratum,
    poll_log2_seconds: s.poll,
    reachability: s.reachability,
    last_sample_ago_seconds: ago(s.sinceSample),
    last_sample_offset_seconds: s.latestMeas,
    last_sample_measured_offset_seconds: s.origLatestMeas,
    last_sample_error_seconds: s.latestMeasErr,
  };
}

/** One `sourcestats` row. */
export function sourceStatsJson(s: SourceStatsReport): { [k: string]: Json } {
  return {
    name: s.address.family === "unspec" ? refIdText(s.refId) : addressJson(s.address),
    address: addressJson(s.address),
    reference_id: hex8(s.refId),
    samples: s.nSamples,
    runs: s.nRuns,
    span_seconds: s.spanSeconds,
    frequency_ppm: s.residFreqPpm,
    frequency_skew_ppm: s.skewPpm,
    offset_seconds: s.estOffset,
    offset_error_seconds: s.estOffsetErr,
    stddev_seconds: s.sd,
  };
}

const SELECT_OPTIONS: [number, string][] = [
  [0x1, "noselect"],
  [0x2, "prefer"],
  [0x4, "trust"],
  [0x8, "require"],
];

function optionList(bits: number): Json[] {
  return SELECT_OPTIONS.filter(([b]) => (bits & b) !== 0).map(([, n]) => n);
}

/** One `selectdata` row with its selection reason. */
export function selectDataJson(s: SelectDataReport, reason?: string): { [k: string]: Json } {
  return {
    name: s.address.family === "unspec" ? refIdText(s.refId) : addressJson(s.address),
    address: addressJson(s.address),
    reference_id: hex8(s.refId),
    state_char: s.stateChar,
    selection_reason: reason ?? reasonOfLetter(s.stateChar),
    authenticated: s.authentication !== 0,
    leap_status: LEAP[s.leap] ?? "invalid",
    configured_options: optionList(s.confOptions),
    effective_options: optionList(s.effOptions),
    last_sample_ago_seconds: s.lastSampleAgo,
    score: s.score,
    interval_low_seconds: s.loLimit,
    interval_high_seconds: s.hiLimit,
  };
}

/** One `ntpdata` report. */
export function ntpDataJson(n: NtpDataReport): { [k: string]: Json } {
  return {
    remote_address: addressJson(n.remoteAddress),
    remote_port: n.remotePort,
    local_address: addressJson(n.localAddress),
    leap_status: LEAP[n.leap] ?? "invalid",
    version: n.version,
    mode: NTP_MODE[n.mode] ?? "invalid",
    stratum: n.stratum,
    poll_log2_seconds: n.poll,
    precision_log2_seconds: n.precision,
    root_delay_seconds: n.rootDelay,
    root_dispersion_seconds: n.rootDispersion,
    reference_id: hex8(n.refId),
    reference_time_unix_seconds: time(n.refTime),
    offset_seconds: n.offset,
    peer_delay_seconds: n.peerDelay,
    peer_dispersion_seconds: n.peerDispersion,
    response_time_seconds: n.responseTime,
    jitter_asymmetry: n.jitterAsymmetry,
    tests: (n.flags & 0x3ff).toString(2).padStart(10, "0"),
    interleaved: (n.flags & 0x4000) !== 0,
    authenticated: (n.flags & 0x8000) !== 0,
    tx_timestamping: TSS[String.fromCharCode(n.txTssChar)] ?? "invalid",
    rx_timestamping: TSS[String.fromCharCode(n.rxTssChar)] ?? "invalid",
    total_tx: n.totalTxCount,
    total_rx: n.totalRxCount,
    total_valid_rx: n.totalValidCount,
    total_good_rx: n.totalGoodCount,
  };
}

/** One `authdata` row. */
export function authDataJson(a: AuthDataReport, address: CmdAddress): { [k: string]: Json } {
  return {
    address: addressJson(address),
    method: ["none", "symmetric", "nts"][a.mode] ?? "unknown",
    key_id: a.keyId,
    key_type: a.keyType,
    key_length_bits: a.keyLength,
    last_ke_ago_seconds: ago(a.lastKeAgo),
    ke_attempts: a.keAttempts,
    naks: a.nak,
    cookies: a.cookies,
    cookie_length_bytes: a.cookieLength,
  };
}

/** `activity`. */
export function activityJson(a: ActivityReport): { [k: string]: Json } {
  return {
    online: a.online,
    offline: a.offline,
    burst_online: a.burstOnline,
    burst_offline: a.burstOffline,
    unresolved: a.unresolved,
  };
}

/** `serverstats` (fields of layouts older than the daemon's are 0). */
export function serverStatsJson(s: ServerStatsReport): { [k: string]: Json } {
  return {
    ntp_packets_received: s.ntpHits,
    ntp_packets_dropped: s.ntpDrops,
    command_packets_received: s.cmdHits,
    command_packets_dropped: s.cmdDrops,
    client_log_records_dropped: s.logDrops,
    nts_ke_connections_accepted: s.nkeHits,
    nts_ke_connections_dropped: s.nkeDrops,
    authenticated_ntp_packets: s.ntpAuthHits,
    interleaved_ntp_packets: s.ntpInterleavedHits,
    ntp_timestamps_held: s.ntpTimestamps,
    ntp_timestamp_span_seconds: s.ntpSpanSeconds,
    ntp_daemon_rx_timestamps: s.ntpDaemonRxTimestamps,
    ntp_daemon_tx_timestamps: s.ntpDaemonTxTimestamps,
    ntp_kernel_rx_timestamps: s.ntpKernelRxTimestamps,
    ntp_kernel_tx_timestamps: s.ntpKernelTxTimestamps,
    ntp_hardware_rx_timestamps: s.ntpHwRxTimestamps,
    ntp_hardware_tx_timestamps: s.ntpHwTxTimestamps,
  };
}

function interval(x: number): number | null {
  return x === 127 || x === -128 ? null : x;
}

/** One `clients` row. */
export function clientJson(c: ClientAccessReport): { [k: string]: Json } {
  return {
    address: addressJson(c.address),
    ntp_packets: c.ntpHits,
    ntp_dropped: c.ntpDrops,
    ntp_interval_log2_seconds: interval(c.ntpInterval),
    ntp_timeout_interval_log2_seconds: interval(c.ntpTimeoutInterval),
    ntp_last_ago_seconds: ago(c.lastNtpHitAgo),
    nts_ke_connections: c.nkeHits,
    nts_ke_dropped: c.nkeDrops,
    nts_ke_interval_log2_seconds: interval(c.nkeInterval),
    nts_ke_last_ago_seconds: ago(c.lastNkeHitAgo),
    command_packets: c.cmdHits,
    command_dropped: c.cmdDrops,
    command_interval_log2_seconds: interval(c.cmdInterval),
    command_last_ago_seconds: ago(c.lastCmdHitAgo),
  };
}

/** `smoothing`. */
export function smoothingJson(s: SmoothingReport): { [k: string]: Json } {
  return {
    active: s.active,
    leap_only: s.leapOnly,
    offset_seconds: s.offset,
    frequency_ppm: s.freqPpm,
    wander_ppm_per_second: s.wanderPpm,
    last_update_ago_seconds: s.lastUpdateAgo,
    remaining_time_seconds: s.remainingTime,
  };
}

/** `rtcdata`. */
export function rtcJson(r: RtcReport): { [k: string]: Json } {
  return {
    reference_time_unix_seconds: time(r.refTime),
    samples: r.nSamples,
    runs: r.nRuns,
    span_seconds: r.spanSeconds,
    rtc_fast_seconds: r.rtcSecondsFast,
    rtc_gain_rate_ppm: r.rtcGainRatePpm,
  };
}

/** Fetches report `name` (every source for the per-source ones) and builds its document. */
export async function collectReport(
  name: JsonReportName,
  fetch: Fetch,
  extras: ReportExtras = {},
): Promise<ApiDocument> {
  const doc = (data: Json): ApiDocument => ({ api_version: API_VERSION, report: name, data });
  switch (name) {
    case "tracking":
      return doc(trackingJson((await fetch({ kind: "tracking" }, "tracking")).report));
    case "activity":
      return doc(activityJson((await fetch({ kind: "activity" }, "activity")).report));
    case "serverstats":
      return doc(serverStatsJson((await fetch({ kind: "server_stats" }, "server_stats")).report));
    case "smoothing":
      return doc(smoothingJson((await fetch({ kind: "smoothing" }, "smoothing")).report));
    case "rtcdata":
      return doc(rtcJson((await fetch({ kind: "rtcreport" }, "rtc")).report));
    case "clients": {
      const rows: Json[] = [];
      // bounded: the client log holds at most 2^24 records, 8 a page
      for (let first = 0, pages = 0; pages < 1 << 21; pages++) {
        const page = (await fetch({
          kind: "client_accesses_by_index3",
          firstIndex: first,
          nClients: 8,
          minHits: 0,
          reset: 0,
        }, "client_accesses")).page;
        for (const c of page.clients) rows.push(clientJson(c));
        if (page.clients.length === 0 || page.nextIndex <= first) break;
        first = page.nextIndex;
      }
      return doc(rows);
    }
    case "sources":
    case "sourcestats":
    case "selectdata":
    case "ntpdata":
    case "authdata": {
      const n = (await fetch({ kind: "n_sources" }, "n_sources")).nSources;
      const rows: Json[] = [];
      for (let i = 0; i < n; i++) {
        if (name === "sourcestats") {
          rows.push(sourceStatsJson(
            (await fetch({ kind: "sourcestats", index: i }, "sourcestats")).report,
          ));
        } else if (name === "selectdata") {
          const r = (await fetch({ kind: "select_data", index: i }, "select_data")).report;
          rows.push(selectDataJson(r, extras.reason?.(i)));
        } else {
          const src = (await fetch({ kind: "source_data", index: i }, "source_data")).report;
          if (name === "sources") rows.push(sourceJson(src));
          else if (src.mode !== 2) {
            if (name === "authdata") {
              const r = await fetch({ kind: "auth_data", ip: src.address }, "auth_data");
              rows.push(authDataJson(r.report, src.address));
            } else {
              const r = await fetch({ kind: "ntp_data", ip: src.address }, "ntp_data");
              rows.push(ntpDataJson(r.report));
            }
          }
        }
      }
      return doc(rows);
    }
  }
}

/** True when `name` is a report with a JSON form. */
export function isJsonReport(name: string): name is JsonReportName {
  return (JSON_REPORTS as readonly string[]).includes(name);
}
