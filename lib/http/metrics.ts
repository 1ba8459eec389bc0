/**
 * `GET /metrics`: the Prometheus text exposition format (version 0.0.4).
 * The `chrony_*` families carry exactly chrony_exporter's names, labels and
 * units (so its dashboards and alerts work unchanged); horae's own figures
 * are under `horae_*`. Pure: built from the report documents of
 * lib/cmdmon/json.ts plus {@linkcode HoraeFigures}.
 *
 * @example
 * ```ts
 * import { MetricsWriter } from "./metrics.ts";
 * const w = new MetricsWriter();
 * w.family("chrony_up", "gauge", "Whether the daemon answered.");
 * w.sample("chrony_up", {}, 1);
 * w.text(); // "# HELP chrony_up Whether the daemon answered.\n# TYPE chrony_up gauge\nchrony_up 1\n"
 * ```
 * @module
 */

import type { Json } from "../cmdmon/json.ts";

/** Content type of the text format. */
export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

type Labels = Record<string, string>;

function escapeLabel(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function escapeHelp(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

function value(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return String(v);
}

/** Accumulates families and their samples, each family once, in order. */
export class MetricsWriter {
  readonly #families = new Map<string, { help: string; type: string; lines: string[] }>();

  family(name: string, type: "gauge" | "counter", help: string): void {
    if (!this.#families.has(name)) this.#families.set(name, { help, type, lines: [] });
  }

  sample(name: string, labels: Labels, v: number): void {
    const f = this.#families.get(name);
    if (!f) throw new Error(`metric family ${name} not declared`);
    const keys = Object.keys(labels);
    const l = keys.length === 0
      ? ""
      : `{${keys.map((k) => `${k}="${escapeLabel(labels[k]!)}"`).join(",")}}`;
    f.lines.push(`${name}${l} ${value(v)}`);
  }

  /** Declares and samples a family in one call. */
  gauge(name: string, help: string, v: number, labels: Labels = {}): void {
    this.family(name, "gauge", help);
    this.sample(name, labels, v);
  }

  counter(name: string, help: string, v: number, labels: Labels = {}): void {
    this.family(name, "counter", help);
    this.sample(name, labels, v);
  }

  text(): string {
    let out = "";
    for (const [name, f] of this.#families) {
      out += `# HELP ${name} ${escapeHelp(f.help)}\n# TYPE ${name} ${f.type}\n`;
      for (const line of f.lines) out += line + "\n";
    }
    return out;
  }
}

/** A JSON object (a report's `data` or one of its rows). */
type Obj = { [k: string]: Json };

function num(o: Obj, k: string): number {
  const v = o[k];
  return typeof v === "number" ? v : typeof v === "boolean" ? (v ? 1 : 0) : NaN;
}

function str(o: Obj, k: string): string {
  const v = o[k];
  return v === null || v === undefined ? "" : String(v);
}

/** chrony_exporter's source_state label values (facebook/time's names), by sources `state`. */
const EXPORTER_STATE: Record<string, string> = {
  selected: "sync",
  unusable: "unreach",
  falseticker: "falseticker",
  jittery: "jittery",
  combined: "candidate",
  not_combined: "outlier",
};

/** chrony_exporter's source_mode label values. */
const EXPORTER_MODE: Record<string, string> = {
  server: "client",
  peer: "peer",
  refclock: "reference clock",
};

/** The reports the metrics are built from (`data` of each document); absent ones are skipped. */
export interface MetricInputs {
  tracking?: Obj;
  sources?: Obj[];
  sourcestats?: Obj[];
  selectdata?: Obj[];
  serverstats?: Obj;
  authdata?: Obj[];
}

/** horae's own figures (`horae_*`). */
export interface HoraeFigures {
  version: string;
  /** Clock updates, steps and updates refused by maxchange, since the start. */
  clockUpdates: number;
  clockSteps: number;
  clockUpdatesIgnored: number;
  /** Client log: records in use, records it may hold, bytes allocated. */
  clientLogRecords: number;
  clientLogCapacity: number;
  clientLogBytes: number;
  /** NTS-KE server sessions (absent without an NTS server). */
  ntsKe?: { served: number; dropped: number; failed: number };
  /** Expiry (Unix seconds) of each `ntsservercert` file that could be read. */
  ntsCertificates: { file: string; notAfter: number }[];
  /** HTTP endpoint: requests answered and refused. */
  httpRequests: number;
  httpRejected: number;
}

/** Builds the whole `/metrics` text. */
export function buildMetrics(inp: MetricInputs, horae: HoraeFigures): string {
  const w = new MetricsWriter();
  w.gauge("chrony_up", "Whether the chrony server is up.", inp.tracking ? 1 : 0);

  const t = inp.tracking;
  if (t) {
    w.gauge("chrony_tracking_info", "Chrony tracking info", 1, {
      tracking_address: str(t, "reference_address"),
      tracking_name: str(t, "reference_name"),
      tracking_refid: str(t, "reference_id"),
    });
    const g = (name: string, help: string, key: string) =>
      w.gauge(`chrony_tracking_${name}`, help, num(t, key));
    g("last_offset_seconds", "Chrony tracking last offset in seconds", "last_offset_seconds");
    g(
      "reference_timestamp_seconds",
      "Chrony tracking Reference timestamp",
      "reference_time_unix_seconds",
    );
    g("system_time_seconds", "Chrony tracking System time", "system_time_correction_seconds");
    w.gauge(
      "chrony_tracking_remote_reference",
      "Chrony tracking is connected to a remote source",
      t["reference_address"] !== null && t["reference_id"] !== "7F7F0101" ? 1 : 0,
    );
    g(
      "rms_offset_seconds",
      "Chrony tracking long-term average of the offset",
      "rms_offset_seconds",
    );
    g(
      "root_delay_seconds",
      "Total of the network path delays to the stratum-1 source",
      "root_delay_seconds",
    );
    g(
      "root_dispersion_seconds",
      "Chrony tracking total of all measurement errors to the NTP root",
      "root_dispersion_seconds",
    );
    g(
      "frequency_ppms",
      "Rate by which the system clock would be wrong uncorrected, in PPMs",
      "frequency_ppm",
    );
    g(
      "residual_frequency_ppms",
      "Difference between the selected source's frequency and the one in use, in PPMs",
      "residual_frequency_ppm",
    );
    g("skew_ppms", "The estimated error bound on the frequency, in PPMs", "skew_ppm");
    g(
      "update_interval_seconds",
      "Time between the last two clock updates, in seconds",
      "update_interval_seconds",
    );
    g("stratum", "Chrony tracking client stratum", "stratum");
  }

  for (const s of inp.sources ?? []) {
    const labels = {
      source_address: str(s, "address") || str(s, "name"),
      source_name: str(s, "name"),
    };
    const reach = num(s, "reachability");
    let ones = 0;
    for (let b = 0; b < 8; b++) ones += (reach >> b) & 1;
    w.gauge(
      "chrony_sources_last_sample_age_seconds",
      "Chrony sources last good sample age in seconds",
      s["last_sample_ago_seconds"] === null ? NaN : num(s, "last_sample_ago_seconds"),
      labels,
    );
    w.gauge(
      "chrony_sources_reachability_ratio",
      "Chrony sources ratio of packet reachability",
      ones / 8,
      labels,
    );
    w.gauge(
      "chrony_sources_reachability_success",
      "Chrony sources last poll reachability success",
      reach & 1,
      labels,
    );
    w.gauge(
      "chrony_sources_last_sample_offset_seconds",
      "Chrony sources last sample offset in seconds",
      num(s, "last_sample_offset_seconds"),
      labels,
    );
    w.gauge(
      "chrony_sources_last_sample_error_margin_seconds",
      "Chrony sources last sample margin of error in seconds",
      num(s, "last_sample_error_seconds"),
      labels,
    );
    w.gauge(
      "chrony_sources_polling_interval_seconds",
      "Chrony sources polling interval in seconds",
      2 ** num(s, "poll_log2_seconds"),
      labels,
    );
    w.gauge("chrony_sources_state_info", "Chrony sources state info", 1, {
      ...labels,
      source_state: EXPORTER_STATE[str(s, "state")] ?? str(s, "state"),
      source_mode: EXPORTER_MODE[str(s, "mode")] ?? str(s, "mode"),
    });
    w.gauge("chrony_sources_stratum", "Chrony sources stratum", num(s, "stratum"), labels);
  }

  for (const s of inp.sourcestats ?? []) {
    const labels = {
      source_address: str(s, "address") || str(s, "name"),
      source_name: str(s, "name"),
    };
    const g = (name: string, help: string, key: string) =>
      w.gauge(`chrony_sourcestats_${name}`, help, num(s, key), labels);
    g(
      "samples",
      "The number of sample points currently being retained for the server. (NP)",
      "samples",
    );
    g(
      "runs",
      "The number of runs of residuals having the same sign following the last regression. (NR)",
      "runs",
    );
    g(
      "span_seconds",
      "The interval between the oldest and newest samples in seconds",
      "span_seconds",
    );
    g("stddev", "The estimated sample standard deviation.", "stddev_seconds");
    g(
      "frequency_ppms",
      "The estimated residual frequency for the server, in parts per million.",
      "frequency_ppm",
    );
    g(
      "frequency_skew_ppms",
      "The estimated error bounds on Freq (again in parts per million).",
      "frequency_skew_ppm",
    );
    g("offset", "The estimated offset of the source.", "offset_seconds");
  }

  const ss = inp.serverstats;
  if (ss) {
    const c = (name: string, help: string, key: string) =>
      w.counter(`chrony_serverstats_${name}`, help, num(ss, key));
    const gs = (name: string, help: string, key: string) =>
      w.gauge(`chrony_serverstats_${name}`, help, num(ss, key));
    c(
      "ntp_packets_received_total",
      "The number of valid NTP requests received by the server.",
      "ntp_packets_received",
    );
    c(
      "nts_ke_connections_accepted_total",
      "The number of NTS-KE connections accepted by the server.",
      "nts_ke_connections_accepted",
    );
    c(
      "command_packets_received_total",
      "The number of command requests received by the server.",
      "command_packets_received",
    );
    c(
      "ntp_packets_dropped_total",
      "The number of NTP requests dropped by the server due to rate limiting.",
      "ntp_packets_dropped",
    );
    c(
      "nts_ke_connections_dropped_total",
      "The number of NTS-KE connections dropped by the server due to rate limiting.",
      "nts_ke_connections_dropped",
    );
    c(
      "command_packets_dropped_total",
      "The number of command requests dropped by the server due to rate limiting.",
      "command_packets_dropped",
    );
    c(
      "client_log_records_dropped_total",
      "The number of client log records dropped by the server to limit the memory use.",
      "client_log_records_dropped",
    );
    c(
      "authenticated_ntp_packets_total",
      "The number of received NTP requests that were authenticated (with a symmetric key or NTS).",
      "authenticated_ntp_packets",
    );
    c(
      "interleaved_ntp_packets_total",
      "The number of received NTP requests that were detected to be in the interleaved mode.",
      "interleaved_ntp_packets",
    );
    gs(
      "ntp_timestamps_held",
      "The number of pairs of receive and transmit timestamps held for interleaved clients.",
      "ntp_timestamps_held",
    );
    gs(
      "ntp_timestamp_span_seconds",
      "The interval (in seconds) covered by the currently held NTP timestamps.",
      "ntp_timestamp_span_seconds",
    );
    for (const [dir, key] of [["rx", "rx"], ["tx", "tx"]] as const) {
      c(
        `ntp_daemon_${dir}_timestamps_total`,
        `The number of NTP responses with a ${dir.toUpperCase()} timestamp captured by the daemon.`,
        `ntp_daemon_${key}_timestamps`,
      );
      c(
        `ntp_kernel_${dir}_timestamps_total`,
        `The number of NTP responses with a ${dir.toUpperCase()} timestamp captured by the kernel.`,
        `ntp_kernel_${key}_timestamps`,
      );
      c(
        `ntp_hw_${dir}_timestamps_total`,
        `The number of NTP responses with a ${dir.toUpperCase()} timestamp captured by the NIC.`,
        `ntp_hardware_${key}_timestamps`,
      );
    }
  }

  // --- horae's own
  w.gauge("horae_build_info", "horae's version.", 1, { version: horae.version });
  for (const s of inp.selectdata ?? []) {
    w.gauge(
      "horae_source_selection_info",
      "Selection state of each source and why (selectdata letter, reason).",
      1,
      {
        source_address: str(s, "address") || str(s, "name"),
        source_name: str(s, "name"),
        state: str(s, "state_char"),
        reason: str(s, "selection_reason"),
      },
    );
  }
  for (const a of inp.authdata ?? []) {
    if (a["method"] !== "nts") continue;
    const labels = { source_address: str(a, "address") };
    w.gauge(
      "horae_source_nts_cookies",
      "NTS cookies held for the source.",
      num(a, "cookies"),
      labels,
    );
    w.gauge(
      "horae_source_nts_ke_attempts",
      "NTS-KE sessions tried since the last success.",
      num(a, "ke_attempts"),
      labels,
    );
    w.gauge(
      "horae_source_nts_last_ke_age_seconds",
      "Seconds since the last successful NTS-KE session (NaN: never).",
      a["last_ke_ago_seconds"] === null ? NaN : num(a, "last_ke_ago_seconds"),
      labels,
    );
  }
  if (horae.ntsKe) {
    w.counter(
      "horae_nts_ke_sessions_served_total",
      "NTS-KE sessions that got cookies.",
      horae.ntsKe.served,
    );
    w.counter(
      "horae_nts_ke_sessions_dropped_total",
      "NTS-KE sessions closed because maxntsconnections were busy.",
      horae.ntsKe.dropped,
    );
    w.counter(
      "horae_nts_ke_sessions_failed_total",
      "NTS-KE sessions that failed (TLS, bad request, timeout).",
      horae.ntsKe.failed,
    );
  }
  for (const c of horae.ntsCertificates) {
    w.gauge(
      "horae_nts_certificate_expiry_timestamp_seconds",
      "When each ntsservercert certificate expires (Unix seconds).",
      c.notAfter,
      { file: c.file },
    );
  }
  w.gauge("horae_client_log_records", "Client log records in use.", horae.clientLogRecords);
  w.gauge(
    "horae_client_log_capacity_records",
    "Client log records allocated (grows up to clientloglimit).",
    horae.clientLogCapacity,
  );
  w.gauge("horae_client_log_bytes", "Memory of the client log, bytes.", horae.clientLogBytes);
  w.counter(
    "horae_clock_updates_total",
    "Clock updates from the selected sources.",
    horae.clockUpdates,
  );
  w.counter(
    "horae_clock_steps_total",
    "Clock updates made by stepping the clock.",
    horae.clockSteps,
  );
  w.counter(
    "horae_clock_slews_total",
    "Clock updates made by slewing the clock.",
    Math.max(0, horae.clockUpdates - horae.clockSteps),
  );
  w.counter(
    "horae_clock_updates_ignored_total",
    "Clock updates refused (maxchange).",
    horae.clockUpdatesIgnored,
  );
  w.counter("horae_http_requests_total", "HTTP requests answered.", horae.httpRequests);
  w.counter(
    "horae_http_requests_rejected_total",
    "HTTP requests refused (access, method, size, time, connections).",
    horae.httpRejected,
  );
  return w.text();
}
