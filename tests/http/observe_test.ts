/**
 * lib/http and lib/cmdmon/json.ts without a daemon: `chronyc -j` and the
 * HTTP API give the same documents (one schema), and they agree with
 * `chronyc -c`; the metrics text; the bounded HTTP server on loopback.
 *
 * @module
 */
import assert from "node:assert/strict";
import { runChronyc } from "../../lib/cmdmon/chronyc.ts";
import { collectReport, JSON_REPORTS } from "../../lib/cmdmon/json.ts";
import { inProcessFetch } from "../../lib/http/observe.ts";
import { buildMetrics, MetricsWriter } from "../../lib/http/metrics.ts";
import { parseHead, startHttpServer } from "../../lib/http/server.ts";
import { History, Ring } from "../../lib/http/history.ts";
import { renderPage, svgPlot } from "../../lib/http/page.ts";
import { FakeBackend } from "../cmdmon/fake_backend.ts";
import { fakeChronycIo } from "../cmdmon/fake_chronyc_io.ts";
import { freePort } from "../interop/harness.ts";
import { parseConfig } from "../../lib/conf/parse.ts";
import { formatConfig } from "../../lib/conf/format.ts";
import { unsupportedUses } from "../../lib/conf/support.ts";

async function chronyc(args: string[]) {
  const { io, captured } = fakeChronycIo();
  const code = await runChronyc(["-h", "/x", ...args], io);
  return { code, out: captured.out, err: captured.err };
}

Deno.test("chronyc -j prints the same document as the HTTP API for every report", async () => {
  for (const name of JSON_REPORTS) {
    const j = await chronyc(["-j", name]);
    let api: unknown;
    try {
      api = await collectReport(name, inProcessFetch(new FakeBackend()));
    } catch (e) {
      // a report the fake daemon lacks: chronyc prints the same status
      assert.equal(j.code, 1, name);
      assert.equal(j.out.trim(), (e as Error).message, name);
      continue;
    }
    assert.equal(j.code, 0, `${name}: ${j.out}${j.err}`);
    assert.deepEqual(JSON.parse(j.out), api, name);
    assert.equal((api as { api_version: number }).api_version, 1);
  }
});

Deno.test("chronyc -j agrees with chronyc -c: tracking and sources", async () => {
  const csv = (await chronyc(["-c", "tracking"])).out.trim().split(",");
  const t = JSON.parse((await chronyc(["--json", "tracking"])).out).data;
  assert.equal(t.reference_id, csv[0]);
  assert.equal(String(t.stratum), csv[2]);
  assert.ok(Math.abs(t.reference_time_unix_seconds - Number(csv[3])) < 1e-6);
  for (
    const [i, k] of [
      [4, "system_time_correction_seconds"],
      [5, "last_offset_seconds"],
      [6, "rms_offset_seconds"],
      [10, "root_delay_seconds"],
      [11, "root_dispersion_seconds"],
    ] as const
  ) assert.ok(Math.abs(t[k] - Number(csv[i])) <= 5e-10, k);
  for (
    const [i, k] of [[7, "frequency_ppm"], [8, "residual_frequency_ppm"], [9, "skew_ppm"]] as const
  ) {
    assert.ok(Math.abs(t[k] - Number(csv[i])) <= 5e-4, k);
  }
  const rows = (await chronyc(["-c", "sources"])).out.trim().split("\n").map((l) => l.split(","));
  const src = JSON.parse((await chronyc(["-j", "sources"])).out).data;
  assert.equal(src.length, rows.length);
  rows.forEach((r, i) => {
    const s = src[i];
    assert.equal(s.state_char, r[1]);
    assert.equal(s.address, r[2]);
    assert.equal(String(s.stratum), r[3]);
    assert.equal(String(s.poll_log2_seconds), r[4]);
    assert.equal(s.reachability.toString(8), r[5]);
    assert.equal(String(s.last_sample_ago_seconds), r[6]);
    assert.ok(Math.abs(s.last_sample_offset_seconds - Number(r[7])) <= 5e-10);
    assert.ok(Math.abs(s.last_sample_error_seconds - Number(r[9])) <= 5e-10);
  });
  const sel = JSON.parse((await chronyc(["-j", "selectdata"])).out).data;
  for (const s of sel) assert.ok(s.selection_reason.length > 0);
});

Deno.test("chronyc -j: a report the daemon refuses prints chronyc's status, exit 1", async () => {
  const r = await chronyc(["-j", "rtcdata"]);
  const plain = await chronyc(["rtcdata"]);
  assert.equal(r.code, plain.code);
  assert.equal(r.out, plain.out);
});

Deno.test("metrics: chrony_exporter's names and labels, escaped label values", async () => {
  const f = inProcessFetch(new FakeBackend());
  const doc = async (n: (typeof JSON_REPORTS)[number]) => (await collectReport(n, f)).data;
  const text = buildMetrics({
    tracking: await doc("tracking") as never,
    sources: await doc("sources") as never,
    sourcestats: await doc("sourcestats") as never,
    selectdata: await doc("selectdata") as never,
    serverstats: await doc("serverstats") as never,
  }, {
    version: "0.1.0",
    clockUpdates: 5,
    clockSteps: 1,
    clockUpdatesIgnored: 0,
    clientLogRecords: 2,
    clientLogCapacity: 64,
    clientLogBytes: 8192,
    ntsCertificates: [{ file: 'a"b\\c', notAfter: 1.8e9 }],
    httpRequests: 1,
    httpRejected: 0,
  });
  for (
    const name of [
      "chrony_tracking_info{",
      "chrony_tracking_last_offset_seconds ",
      "chrony_tracking_frequency_ppms ",
      'chrony_sources_state_info{source_address="192.0.2.1",source_name="192.0.2.1",source_state="sync",source_mode="client"} 1',
      "chrony_sourcestats_stddev{",
      "chrony_serverstats_ntp_packets_received_total ",
      "horae_source_selection_info{",
      "horae_clock_slews_total 4",
      'horae_nts_certificate_expiry_timestamp_seconds{file="a\\"b\\\\c"} 1800000000',
    ]
  ) assert.ok(text.includes(name), name);
  // each family declared once, before its samples
  const types = text.split("\n").filter((l) => l.startsWith("# TYPE "));
  assert.equal(new Set(types).size, types.length);
  const w = new MetricsWriter();
  assert.throws(() => w.sample("undeclared", {}, 1));
});

Deno.test("http: request heads: read-only, origin-form, HTTP/1.x", () => {
  const r = (line: string) => parseHead(line + "\r\n\r\n", "127.0.0.1");
  assert.deepEqual(
    (r("GET /api/v1/tracking?x=1 HTTP/1.1") as { path: string }).path,
    "/api/v1/tracking",
  );
  const post = r("POST / HTTP/1.1") as { status: number; headers: Record<string, string> };
  assert.equal(post.status, 405);
  assert.equal(post.headers.Allow, "GET, HEAD");
  assert.equal((r("GET http://x/ HTTP/1.1") as { status: number }).status, 400);
  assert.equal((r("GET / HTTP/2.0") as { status: number }).status, 505);
  assert.equal((r("garbage") as { status: number }).status, 400);
});

async function raw(port: number, text: string): Promise<string> {
  const c = await Deno.connect({ hostname: "127.0.0.1", port });
  await c.write(new TextEncoder().encode(text));
  const chunks: Uint8Array[] = [];
  const buf = new Uint8Array(65536);
  for (;;) {
    const n = await c.read(buf).catch(() => null);
    if (n === null) break;
    chunks.push(buf.slice(0, n));
  }
  c.close();
  return new TextDecoder().decode(new Uint8Array(chunks.flatMap((x) => [...x])));
}

Deno.test("http server: GET/HEAD answered, others 405, big heads 431, access rule, connection bound", async () => {
  let allow = true;
  const fixed = freePort();
  const s2 = startHttpServer({
    addresses: ["127.0.0.1"],
    port: fixed,
    allowed: () => allow,
    handle: (req) => ({ status: 200, type: "text/plain", body: `path ${req.path}\n` }),
    maxConnections: 1,
    maxRequestBytes: 256,
    timeoutMs: 1500,
  });
  try {
    const ok = await raw(fixed, "GET /a%20b HTTP/1.1\r\nHost: x\r\n\r\n");
    assert.match(ok, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(ok, /Connection: close/);
    assert.ok(ok.endsWith("\r\n\r\npath /a b\n"));
    const head = await raw(fixed, "HEAD / HTTP/1.1\r\n\r\n");
    assert.match(head, /Content-Length: 7\r\n/);
    assert.ok(head.endsWith("\r\n\r\n"));
    assert.match(await raw(fixed, "DELETE / HTTP/1.1\r\n\r\n"), /^HTTP\/1\.1 405 /);
    assert.match(
      await raw(fixed, "GET /" + "x".repeat(300) + " HTTP/1.1\r\n\r\n"),
      /^HTTP\/1\.1 431 /,
    );
    // one connection holds the only slot (sends nothing): the next is refused with 503
    const hold = await Deno.connect({ hostname: "127.0.0.1", port: fixed });
    await new Promise((r) => setTimeout(r, 100));
    assert.match(await raw(fixed, "GET / HTTP/1.1\r\n\r\n"), /^HTTP\/1\.1 503 /);
    // the held one is closed at the deadline
    const t0 = Date.now();
    const n = await hold.read(new Uint8Array(10)).catch(() => null);
    assert.equal(n, null);
    assert.ok(Date.now() - t0 < 3000);
    hold.close();
    allow = false;
    assert.equal(await raw(fixed, "GET / HTTP/1.1\r\n\r\n"), "");
    assert.ok(s2.stats.answered >= 2 && s2.stats.rejected >= 4);
  } finally {
    await s2.close();
  }
});

Deno.test("history: bounded rings, removed sources forgotten", () => {
  const r = new Ring<number>(3);
  for (let i = 0; i < 7; i++) r.push(i);
  assert.deepEqual(r.toArray(), [4, 5, 6]);
  const h = new History(2);
  h.addSource("a", { t: 1, offset: 0, delay: 0, jitter: 0 });
  h.addSource("b", { t: 1, offset: 0, delay: 0, jitter: 0 });
  h.retain(new Set(["b"]));
  assert.deepEqual(Object.keys(h.toJson().sources), ["b"]);
});

Deno.test("page: plots carry their points; names are escaped; empty plots say so", () => {
  const svg = svgPlot("x", "s", [{ name: "<a>", points: [[1, 1e-3], [2, 2e-3], [3, NaN]] }]);
  assert.match(svg, /<svg class="plot" data-points="2"/);
  assert.match(svg, /<polyline data-series="&lt;a&gt;" data-points="2"/);
  assert.match(svgPlot("y", "s", []), /data-points="0".*no data yet/);
  const html = renderPage({
    history: {
      clock: [{ t: 1, offset: 1e-6, frequency: 2, rootDistance: 1e-3 }],
      sources: { "192.0.2.1": [{ t: 1, offset: 1e-6, delay: 1e-3, jitter: 1e-6 }] },
    },
    selectdata: [{ name: "192.0.2.1", state_char: "x", selection_reason: "falseticker: <b>" }],
    now: 1,
    version: "0.1.0",
  });
  assert.match(html, /falseticker: &lt;b&gt;/);
  assert.doesNotMatch(html, /<script src=|<link |https?:\/\/(?!www\.w3)/);
  assert.equal((html.match(/<svg class="plot" data-points="[1-9]/g) ?? []).length, 6);
});

Deno.test("conf: httpport, bindhttpaddress, httpallow/httpdeny parsed, printed by -p, implemented", () => {
  const text = "httpport 9123\nbindhttpaddress ::1\nbindhttpaddress 127.0.0.2\n" +
    "httpallow 192.0.2.0/24\nhttpdeny  192.0.2.7\n";
  const r = parseConfig(text);
  assert.equal(r.config.httpPort, 9123);
  assert.deepEqual(r.config.bindHttpAddress, { ipv4: "127.0.0.2", ipv6: "::1" });
  assert.deepEqual(r.config.httpAccess.map((a) => a.allow), [true, false]);
  assert.equal(formatConfig(r), text.replace("  ", " "));
  assert.deepEqual(unsupportedUses(r), []);
  assert.equal(parseConfig("").config.httpPort, 0);
  assert.throws(() => parseConfig("httpport 70000\n"));
  assert.throws(() => parseConfig("bindhttpaddress /run/x.sock\n"));
});
