/**
 * The daemon's observability endpoint (`httpport`): routes of the HTTP
 * server, the in-process report source and the history sampler.
 *
 * Reports are fetched through cmdmon itself: each request is encoded as
 * chronyc would send it and handed to `handleRequest` as if from the Unix
 * socket (not counted as a command packet), so `/api/v1/*`, `/metrics`,
 * `chronyc -j` and `chronyc` print the same values, wire rounding included.
 * All of it runs on the event loop between NTP packets; a scrape of a few
 * sources costs well under a millisecond (bench:server measures it).
 *
 * Routes: `GET /` (status page; `?fragment=1` its content only), `GET
 * /metrics`, `GET /api/v1/<report>` (lib/cmdmon/json.ts), `GET
 * /api/v1/history` (the plots' points), `GET /api/v1` (the list).
 *
 * @module
 */

import type { CmdmonBackend } from "../cmdmon/handlers.ts";
import { handleRequest } from "../cmdmon/handlers.ts";
import {
  API_VERSION,
  type ApiDocument,
  collectReport,
  fetchVia,
  isJsonReport,
  JSON_REPORTS,
  type JsonReportName,
  ReportError,
} from "../cmdmon/json.ts";
import { decodeReply, decodeReplyHeader, type Reply } from "../cmdmon/reports.ts";
import { encodeRequest, type Request } from "../cmdmon/request.ts";
import { Status } from "../cmdmon/wire.ts";
import { History } from "./history.ts";
import { buildMetrics, type HoraeFigures, METRICS_CONTENT_TYPE } from "./metrics.ts";
import { renderFragment, renderPage } from "./page.ts";
import { type HttpRequest, type HttpResponse, type HttpServer, startHttpServer } from "./server.ts";
import type { X509Certificate as X509 } from "node:crypto";

/** Seconds between two history points. */
export const HISTORY_INTERVAL = 5;
/** Points kept: 3 hours at HISTORY_INTERVAL. */
export const HISTORY_POINTS = 3 * 3600 / HISTORY_INTERVAL;

/** What the endpoint reads from the daemon. */
export interface ObserveInputs {
  backend: CmdmonBackend;
  /** Selection reason of the source at report index `i`. */
  reason(i: number): string | undefined;
  /** Clock updates, steps, updates ignored (maxchange). */
  clockCounters(): { updates: number; steps: number; ignored: number };
  clientLog: { readonly size: number; readonly capacity: number; readonly bytes: number };
  /** NTS-KE server sessions; null when not serving NTS. */
  ntsKe(): { served: number; dropped: number; failed: number } | null;
  ntsCertFiles: readonly string[];
  /** httpallow/httpdeny (127.0.0.1 and ::1 always allowed). */
  allowed(address: string): boolean;
  addresses: string[];
  port: number;
  /** Wall clock, Unix seconds. */
  now(): number;
  version: string;
  log(message: string): void;
}

/** The running endpoint. */
export interface Observer {
  readonly server: HttpServer;
  readonly history: History;
  /** Takes one history point now (the timer does it every HISTORY_INTERVAL s). */
  sample(): Promise<void>;
  close(): Promise<void>;
}

/** Report documents through cmdmon, in process. */
export function inProcessFetch(backend: CmdmonBackend) {
  let sequence = 1;
  return fetchVia((req: Request) => {
    sequence = (sequence + 1) >>> 0;
    const out = handleRequest(
      encodeRequest(req, { sequence, attempt: 0 }),
      { fromUnixSocket: true },
      backend,
    );
    if (!out) return Promise.resolve(null);
    const h = decodeReplyHeader(out);
    const reply: Reply = h.status === Status.SUCCESS ? decodeReply(out).reply : { kind: "null" };
    return Promise.resolve({ status: h.status, reply });
  });
}

function json(status: number, body: unknown): HttpResponse {
  return {
    status,
    type: "application/json; charset=utf-8",
    body: JSON.stringify(body, null, 2) + "\n",
  };
}

/**
 * Expiry dates of the certificate files, read at most once a minute. node:crypto
 * (Deno's Node layer: megabytes) is loaded only when there are files, and in the
 * background: until it is there the list is empty and nothing is cached.
 */
function certCache(files: readonly string[], now: () => number, log: (m: string) => void) {
  let at = -Infinity;
  let value: { file: string; notAfter: number }[] = [];
  const warned = new Set<string>();
  let X509Certificate: typeof X509 | null = null;
  if (files.length > 0) {
    import("node:crypto").then((m) => (X509Certificate = m.X509Certificate)).catch((e) =>
      log(`Could not load node:crypto : ${(e as Error).message}`)
    );
  }
  return () => {
    if (X509Certificate === null) return value;
    if (now() - at < 60) return value;
    at = now();
    value = [];
    for (const file of files) {
      try {
        const c = new X509Certificate(Deno.readTextFileSync(file));
        value.push({ file, notAfter: Date.parse(c.validTo) / 1000 });
      } catch (e) {
        if (!warned.has(file)) log(`Could not read certificate ${file} : ${(e as Error).message}`);
        warned.add(file);
      }
    }
    return value;
  };
}

/** Starts the HTTP endpoint and its history sampler. */
export function startObserver(inp: ObserveInputs): Observer {
  const fetch = inProcessFetch(inp.backend);
  const history = new History(HISTORY_POINTS);
  const certs = certCache(inp.ntsCertFiles, inp.now, inp.log);
  const extras = { reason: inp.reason };

  const get = async (name: JsonReportName): Promise<ApiDocument | null> => {
    try {
      return await collectReport(name, fetch, extras);
    } catch (e) {
      if (e instanceof ReportError) return null;
      throw e;
    }
  };
  type Obj = { [k: string]: import("../cmdmon/json.ts").Json };
  const obj = (d: ApiDocument | null) => (d ? d.data as Obj : undefined);
  const rows = (d: ApiDocument | null) => (d ? d.data as Obj[] : undefined);

  const sample = async () => {
    const t = inp.now();
    const tr = obj(await get("tracking"));
    const ss = obj(await get("serverstats"));
    if (tr && tr["leap_status"] !== "unsynchronised") {
      history.addClock({
        t,
        offset: tr["last_offset_seconds"] as number,
        frequency: tr["frequency_ppm"] as number,
        rootDistance: (tr["root_delay_seconds"] as number) / 2 +
          (tr["root_dispersion_seconds"] as number),
        ...(ss
          ? {
            ntpRequests: ss["ntp_packets_received"] as number,
            ntsKeAccepted: ss["nts_ke_connections_accepted"] as number,
          }
          : {}),
      });
    }
    const sources = rows(await get("sources")) ?? [];
    const stats = rows(await get("sourcestats")) ?? [];
    const ntp = rows(await get("ntpdata")) ?? [];
    const names = new Set<string>();
    sources.forEach((s, i) => {
      const name = String(s["name"] ?? "?");
      names.add(name);
      if (s["last_sample_ago_seconds"] === null) return;
      const delay = ntp.find((n) => n["remote_address"] === s["address"])?.["peer_delay_seconds"];
      history.addSource(name, {
        t,
        offset: s["last_sample_offset_seconds"] as number,
        delay: typeof delay === "number" ? delay : NaN,
        jitter: (stats[i]?.["stddev_seconds"] as number | undefined) ?? NaN,
      });
    });
    history.retain(names);
  };

  const figures = (): HoraeFigures => {
    const c = inp.clockCounters();
    const ke = inp.ntsKe();
    return {
      version: inp.version,
      clockUpdates: c.updates,
      clockSteps: c.steps,
      clockUpdatesIgnored: c.ignored,
      clientLogRecords: inp.clientLog.size,
      clientLogCapacity: inp.clientLog.capacity,
      clientLogBytes: inp.clientLog.bytes,
      ...(ke ? { ntsKe: ke } : {}),
      ntsCertificates: certs(),
      httpRequests: server.stats.answered,
      httpRejected: server.stats.rejected,
    };
  };

  const handle = async (req: HttpRequest): Promise<HttpResponse> => {
    if (req.path === "/" || req.path === "/index.html") {
      const [tracking, selectdata, serverstats] = [
        obj(await get("tracking")),
        rows(await get("selectdata")),
        obj(await get("serverstats")),
      ];
      const ke = inp.ntsKe();
      const p = {
        history: history.toJson(),
        ...(tracking ? { tracking } : {}),
        ...(selectdata ? { selectdata } : {}),
        ...(serverstats ? { serverstats } : {}),
        ...(ke ? { ntsKe: ke } : {}),
        now: inp.now(),
        version: inp.version,
      };
      return {
        status: 200,
        type: "text/html; charset=utf-8",
        body: req.query.get("fragment") === "1" ? renderFragment(p) : renderPage(p),
      };
    }
    if (req.path === "/metrics") {
      const [tracking, serverstats] = [obj(await get("tracking")), obj(await get("serverstats"))];
      const body = buildMetrics({
        ...(tracking ? { tracking } : {}),
        sources: rows(await get("sources")) ?? [],
        sourcestats: rows(await get("sourcestats")) ?? [],
        selectdata: rows(await get("selectdata")) ?? [],
        authdata: rows(await get("authdata")) ?? [],
        ...(serverstats ? { serverstats } : {}),
      }, figures());
      return { status: 200, type: METRICS_CONTENT_TYPE, body };
    }
    const base = `/api/v${API_VERSION}`;
    if (req.path === base || req.path === base + "/") {
      return json(200, { api_version: API_VERSION, reports: [...JSON_REPORTS, "history"] });
    }
    if (req.path === `${base}/history`) {
      return json(200, { api_version: API_VERSION, report: "history", data: history.toJson() });
    }
    if (req.path.startsWith(base + "/")) {
      const name = req.path.slice(base.length + 1);
      if (!isJsonReport(name)) return json(404, { error: `no report ${name}` });
      try {
        return json(200, await collectReport(name, fetch, extras));
      } catch (e) {
        if (!(e instanceof ReportError)) throw e;
        // e.g. rtcdata/smoothing not enabled: chronyc's status text
        return json(503, { api_version: API_VERSION, report: name, error: e.message });
      }
    }
    return json(404, { error: "not found", see: ["/", "/metrics", base] });
  };

  const server = startHttpServer({
    addresses: inp.addresses,
    port: inp.port,
    allowed: inp.allowed,
    handle,
    log: inp.log,
  });
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    sample().catch((e) => inp.log(`HTTP history: ${(e as Error).message}`)).finally(() =>
      busy = false
    );
  }, HISTORY_INTERVAL * 1000);
  sample().catch(() => {});
  return {
    server,
    history,
    sample,
    async close() {
      clearInterval(timer);
      await server.close();
    },
  };
}
