/**
 * `GET /`: the status page, rendered on the server as one HTML document
 * with hand-made SVG plots (no script library, no external asset: it works
 * offline; docs/DEPENDENCIES.md). A few lines of inline script fetch
 * `/?fragment=1` every 5 s and swap the content in, so the plots move live;
 * without script the page is still complete. Pure: built from report
 * documents and the {@linkcode History}.
 *
 * @example
 * ```ts
 * import { renderPage } from "./page.ts";
 * const html = renderPage({ history: { clock: [], sources: {} }, now: 0, version: "0.1.0" });
 * html.startsWith("<!DOCTYPE html>"); // true
 * ```
 * @module
 */

import type { Json } from "../cmdmon/json.ts";
import type { ClockPoint, SourcePoint } from "./history.ts";

type Obj = { [k: string]: Json };

/** What the page shows. */
export interface PageInputs {
  history: { clock: ClockPoint[]; sources: Record<string, SourcePoint[]> };
  tracking?: Obj;
  selectdata?: Obj[];
  sources?: Obj[];
  serverstats?: Obj;
  /** NTS-KE server sessions, when serving NTS. */
  ntsKe?: { served: number; dropped: number; failed: number };
  /** Unix seconds. */
  now: number;
  version: string;
}

/** Escapes text for HTML content and attribute values. */
export function esc(s: string): string {
  return s.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!,
  );
}

const COLORS = [
  "#1f77b4",
  "#d62728",
  "#2ca02c",
  "#9467bd",
  "#ff7f0e",
  "#17becf",
  "#8c564b",
  "#e377c2",
];

/** A value with an SI prefix for axis labels: seconds get s/ms/µs/ns. */
function axisLabel(v: number, unit: string): string {
  if (unit !== "s") return `${Number(v.toPrecision(3))} ${unit}`;
  const a = Math.abs(v);
  if (a === 0) return "0 s";
  if (a >= 1) return `${Number(v.toPrecision(3))} s`;
  if (a >= 1e-3) return `${Number((v * 1e3).toPrecision(3))} ms`;
  if (a >= 1e-6) return `${Number((v * 1e6).toPrecision(3))} µs`;
  return `${Number((v * 1e9).toPrecision(3))} ns`;
}

function hhmm(t: number): string {
  const d = new Date(t * 1000);
  return `${String(d.getUTCHours()).padStart(2, "0")}:${
    String(d.getUTCMinutes()).padStart(2, "0")
  }`;
}

/** One series of a plot. */
export interface Series {
  name: string;
  points: [t: number, v: number][];
}

const W = 560, H = 170, L = 70, R = 10, T = 24, B = 22;

/**
 * An SVG line plot. Every series is a `<polyline>` with `data-points` (its
 * number of points) and the plot's `<svg>` carries the total, so a test (or
 * a person) can see that it holds data.
 */
export function svgPlot(title: string, unit: string, series: Series[]): string {
  const all = series.flatMap((s) => s.points).filter(([, v]) => Number.isFinite(v));
  const total = all.length;
  let out =
    `<svg class="plot" data-points="${total}" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${
      esc(title)
    }">` +
    `<text x="${L}" y="15" class="title">${esc(title)}</text>`;
  if (total === 0) {
    return out +
      `<text x="${W / 2}" y="${H / 2}" text-anchor="middle" class="none">no data yet</text></svg>`;
  }
  let t0 = Infinity, t1 = -Infinity, v0 = Infinity, v1 = -Infinity;
  for (const [t, v] of all) {
    t0 = Math.min(t0, t), t1 = Math.max(t1, t), v0 = Math.min(v0, v), v1 = Math.max(v1, v);
  }
  if (t1 === t0) t1 = t0 + 1;
  if (v1 === v0) {
    const pad = Math.abs(v0) * 0.1 || (unit === "s" ? 1e-9 : 1);
    v0 -= pad, v1 += pad;
  }
  const x = (t: number) => L + (t - t0) / (t1 - t0) * (W - L - R);
  const y = (v: number) => T + (1 - (v - v0) / (v1 - v0)) * (H - T - B);
  out += `<rect x="${L}" y="${T}" width="${W - L - R}" height="${H - T - B}" class="frame"/>`;
  for (const v of [v0, (v0 + v1) / 2, v1]) {
    out += `<text x="${L - 4}" y="${y(v) + 4}" text-anchor="end" class="tick">${
      esc(axisLabel(v, unit))
    }</text>`;
  }
  if (v0 < 0 && v1 > 0) {
    out += `<line x1="${L}" x2="${W - R}" y1="${y(0)}" y2="${y(0)}" class="zero"/>`;
  }
  out += `<text x="${L}" y="${H - 6}" class="tick">${hhmm(t0)}</text>` +
    `<text x="${W - R}" y="${H - 6}" text-anchor="end" class="tick">${hhmm(t1)} UTC</text>`;
  series.forEach((s, i) => {
    const pts = s.points.filter(([, v]) => Number.isFinite(v));
    if (pts.length === 0) return;
    const color = COLORS[i % COLORS.length]!;
    const coords = pts.map(([t, v]) => `${x(t).toFixed(1)},${y(v).toFixed(1)}`).join(" ");
    out +=
      `<polyline data-series="${esc(s.name)}" data-points="${pts.length}" points="${coords}" ` +
      `fill="none" stroke="${color}" stroke-width="1.5"/>`;
    if (pts.length === 1) {
      out += `<circle cx="${x(pts[0]![0]).toFixed(1)}" cy="${
        y(pts[0]![1]).toFixed(1)
      }" r="2.5" fill="${color}"/>`;
    }
  });
  if (series.length > 1) {
    series.forEach((s, i) => {
      out += `<text x="${W - R - 4}" y="${
        T + 12 + 12 * i
      }" text-anchor="end" class="legend" fill="${COLORS[i % COLORS.length]}">${
        esc(s.name)
      }</text>`;
    });
  }
  return out + "</svg>";
}

/** Rates (per second) between successive points of a cumulative counter. */
export function rates(points: [number, number][]): [number, number][] {
  const out: [number, number][] = [];
  for (let i = 1; i < points.length; i++) {
    const [ta, a] = points[i - 1]!, [tb, b] = points[i]!;
    if (tb > ta && b >= a) out.push([tb, (b - a) / (tb - ta)]);
  }
  return out;
}

function text(o: Obj | undefined, k: string): string {
  const v = o?.[k];
  return v === null || v === undefined ? "–" : String(v);
}

/** The page's content (what the live refresh swaps in). */
export function renderFragment(p: PageInputs): string {
  const c = p.history.clock;
  const src = Object.entries(p.history.sources);
  const per = (k: keyof SourcePoint): Series[] =>
    src.map(([name, pts]) => ({ name, points: pts.map((q) => [q.t, q[k]] as [number, number]) }));
  const t = p.tracking;
  let h = `<section class="summary"><h2>Clock</h2><table>` +
    `<tr><th>Reference</th><td>${esc(text(t, "reference_name"))} (${
      esc(text(t, "reference_id"))
    })</td></tr>` +
    `<tr><th>Stratum</th><td>${esc(text(t, "stratum"))}</td></tr>` +
    `<tr><th>Last offset</th><td>${
      typeof t?.["last_offset_seconds"] === "number"
        ? esc(axisLabel(t["last_offset_seconds"], "s"))
        : "–"
    }</td></tr>` +
    `<tr><th>Frequency</th><td>${
      typeof t?.["frequency_ppm"] === "number" ? t["frequency_ppm"].toFixed(3) : "–"
    } ppm</td></tr>` +
    `<tr><th>Leap status</th><td>${esc(text(t, "leap_status"))}</td></tr></table></section>`;
  h += `<section class="plots">` +
    svgPlot("Clock offset", "s", [{ name: "offset", points: c.map((q) => [q.t, q.offset]) }]) +
    svgPlot("Frequency", "ppm", [{ name: "frequency", points: c.map((q) => [q.t, q.frequency]) }]) +
    svgPlot("Root distance", "s", [{
      name: "root distance",
      points: c.map((q) => [q.t, q.rootDistance]),
    }]) +
    svgPlot("Source offsets", "s", per("offset")) +
    svgPlot("Source delays", "s", per("delay")) +
    svgPlot("Source jitter", "s", per("jitter")) +
    `</section>`;
  h +=
    `<section><h2>Selection</h2><table class="sel"><tr><th>Source</th><th>State</th><th>Why</th></tr>`;
  for (const s of p.selectdata ?? []) {
    h += `<tr><td>${esc(text(s, "name"))}</td><td class="st">${
      esc(text(s, "state_char"))
    }</td><td>${esc(text(s, "selection_reason"))}</td></tr>`;
  }
  if ((p.selectdata ?? []).length === 0) h += `<tr><td colspan="3">no sources</td></tr>`;
  h += `</table></section>`;
  const ss = p.serverstats;
  const reqs = c.filter((q) => q.ntpRequests !== undefined).map((q) =>
    [q.t, q.ntpRequests!] as [number, number]
  );
  const ke = c.filter((q) => q.ntsKeAccepted !== undefined).map((q) =>
    [q.t, q.ntsKeAccepted!] as [number, number]
  );
  h += `<section><h2>Server</h2>` +
    svgPlot("NTP requests per second", "/s", [{ name: "requests", points: rates(reqs) }]) +
    svgPlot("NTS-KE sessions per second", "/s", [{ name: "NTS-KE", points: rates(ke) }]) +
    `<table><tr><th>NTP packets received</th><td>${
      esc(text(ss, "ntp_packets_received"))
    }</td></tr>` +
    `<tr><th>NTP packets dropped</th><td>${esc(text(ss, "ntp_packets_dropped"))}</td></tr>` +
    `<tr><th>NTS-KE connections accepted</th><td>${
      esc(text(ss, "nts_ke_connections_accepted"))
    }</td></tr>` +
    `<tr><th>NTS-KE connections dropped</th><td>${
      esc(text(ss, "nts_ke_connections_dropped"))
    }</td></tr>` +
    `<tr><th>Authenticated NTP packets</th><td>${
      esc(text(ss, "authenticated_ntp_packets"))
    }</td></tr>`;
  if (p.ntsKe) {
    h +=
      `<tr><th>NTS-KE sessions served / failed</th><td>${p.ntsKe.served} / ${p.ntsKe.failed}</td></tr>`;
  }
  h += `</table></section>`;
  return h +
    `<p class="foot">horae ${esc(p.version)} · ${new Date(p.now * 1000).toISOString()} · ` +
    `<a href="/metrics">/metrics</a> · <a href="/api/v1/tracking">/api/v1</a></p>`;
}

const STYLE = `body{font:14px system-ui,sans-serif;margin:1em 2em;color:#222;background:#fff}
h1{font-size:20px}h2{font-size:16px;margin:.8em 0 .3em}
table{border-collapse:collapse}th,td{padding:2px 8px;text-align:left;border-bottom:1px solid #ddd}
.plots{display:flex;flex-wrap:wrap;gap:8px}.plot{border:1px solid #ccc;background:#fcfcfc}
.plot .title{font-weight:600;font-size:12px}.plot .tick,.plot .legend{font-size:10px}
.plot .frame{fill:none;stroke:#bbb}.plot .zero{stroke:#999;stroke-dasharray:3 3}.plot .none{fill:#999}
.st{font-family:monospace;text-align:center}.foot{color:#777;font-size:12px}`;

const SCRIPT = `setInterval(async()=>{try{const r=await fetch("/?fragment=1",{cache:"no-store"});
if(r.ok)document.getElementById("main").innerHTML=await r.text()}catch(e){}},5000);`;

/** The whole page. */
export function renderPage(p: PageInputs): string {
  return `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>horae status</title>` +
    `<meta name="viewport" content="width=device-width"><style>${STYLE}</style></head><body>` +
    `<h1>horae status</h1><div id="main">${
      renderFragment(p)
    }</div><script>${SCRIPT}</script></body></html>`;
}
