/**
 * horae's HTTP endpoint (`httpport`, lib/http) on a running daemon
 * synchronised to the real chronyd:
 * - `/metrics` parsed by a real Prometheus text parser (Debian's
 *   python3-prometheus-client) holds chrony_exporter's names with sane values;
 * - `/api/v1/*` and `chronyc -j` parse as JSON and agree with the real
 *   `chronyc -c` output;
 * - the status page rendered by headless Chromium has plots with data points;
 * - read-only (405), and closed to hosts outside httpallow.
 * Needs chrony, python3-prometheus-client and chromium: with CI set, missing
 * ones fail the test (.ci/run installs them).
 */
import assert from "node:assert/strict";
import { freePort, haveChrony, ROOT, runCommand, startChronyd, startHorae } from "./harness.ts";

const PYTHON = "/usr/bin/python3";
const CHROMIUM = "/usr/bin/chromium";

function have(path: string, what: string, probe?: string[]): boolean {
  let ok = false;
  try {
    ok = Deno.statSync(path).isFile;
    if (ok && probe) {
      ok = new Deno.Command(path, { args: probe, stdout: "null", stderr: "null" }).outputSync()
        .success;
    }
  } catch {
    ok = false;
  }
  if (!ok && Deno.env.get("CI")) throw new Error(`http: ${what} is not installed, and CI is set`);
  if (!ok) console.warn(`http: ${what} not installed: skipping`);
  return ok;
}

const enabled = haveChrony();
const withParser = enabled &&
  have(PYTHON, "python3-prometheus-client", ["-c", "import prometheus_client"]);
const withChromium = enabled && have(CHROMIUM, "chromium");

/** Families and samples of a metrics text, as parsed by prometheus_client. */
async function parseMetrics(text: string) {
  const script = `
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = []
for f in text_string_to_metric_families(sys.stdin.read()):
    out.append({"name": f.name, "type": f.type, "samples": [
        {"name": s.name, "labels": s.labels, "value": s.value} for s in f.samples]})
print(json.dumps(out))
`;
  const child = new Deno.Command(PYTHON, {
    args: ["-c", script],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const w = child.stdin.getWriter();
  await w.write(new TextEncoder().encode(text));
  await w.close();
  const o = await child.output();
  assert.equal(o.code, 0, new TextDecoder().decode(o.stderr));
  return JSON.parse(new TextDecoder().decode(o.stdout)) as {
    name: string;
    type: string;
    samples: { name: string; labels: Record<string, string>; value: number }[];
  }[];
}

async function get(port: number, path: string, host = "127.0.0.1") {
  const r = await fetch(`http://${host}:${port}${path}`);
  return { status: r.status, type: r.headers.get("content-type") ?? "", text: await r.text() };
}

async function until(what: string, probe: () => Promise<boolean>, ms = 30_000) {
  const end = Date.now() + ms;
  while (!(await probe())) {
    if (Date.now() > end) throw new Error(`http: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

/** Runs `f` until two runs of `stable` agree (the daemon may update in between). */
async function steady<T>(f: () => Promise<T>, stable: (a: T, b: T) => boolean): Promise<T> {
  let last = await f();
  for (let i = 0; i < 20; i++) {
    const next = await f();
    if (stable(last, next)) return next;
    last = next;
  }
  return last;
}

Deno.test({
  name: "http: /metrics, /api/v1, chronyc -j and the status page of a synchronised horae",
  ignore: !enabled,
  async fn(t) {
    const server = await startChronyd({ port: freePort() });
    const http = freePort();
    const horae = await startHorae([
      // long polls after the iburst: the reports stay still while they are compared
      `server 127.0.0.1 port ${server.port} iburst minpoll 6 maxpoll 6`,
      `httpport ${http}`,
      "bindhttpaddress 127.0.0.1",
    ], { flags: ["-4"] }).catch(async (e) => {
      await server.stop();
      throw e;
    });
    const chronyc = async (...args: string[]) =>
      (await runCommand("/usr/bin/chronyc", ["-h", horae.socket, "-n", ...args], {
        timeoutMs: 10_000,
      })).stdout;
    try {
      await until(
        "synchronisation",
        async () => (await chronyc("-c", "sources")).startsWith("^,*"),
      );

      await t.step({
        name: "metrics parsed by prometheus_client: chrony_exporter's names, sane values",
        ignore: !withParser,
        async fn() {
          const m = await get(http, "/metrics");
          assert.equal(m.status, 200);
          assert.match(m.type, /^text\/plain; version=0\.0\.4/);
          const fams = await parseMetrics(m.text);
          const one = (name: string) => {
            const f = fams.find((x) => x.samples.some((s) => s.name === name));
            assert.ok(f, `missing ${name}`);
            return f.samples.filter((s) => s.name === name);
          };
          const v = (name: string) => one(name)[0]!.value;
          assert.equal(v("chrony_up"), 1);
          assert.equal(v("chrony_tracking_stratum"), 2);
          assert.equal(v("chrony_tracking_remote_reference"), 1);
          assert.equal(one("chrony_tracking_info")[0]!.labels.tracking_refid, "7F000001");
          assert.ok(Math.abs(v("chrony_tracking_last_offset_seconds")) < 0.01);
          assert.ok(Math.abs(v("chrony_tracking_frequency_ppms")) < 500);
          assert.ok(v("chrony_tracking_root_delay_seconds") > 0);
          assert.ok(v("chrony_tracking_root_delay_seconds") < 0.01);
          assert.ok(v("chrony_tracking_skew_ppms") >= 0);
          const now = Date.now() / 1000;
          assert.ok(Math.abs(v("chrony_tracking_reference_timestamp_seconds") - now) < 120);
          const state = one("chrony_sources_state_info")[0]!.labels;
          assert.deepEqual(state, {
            source_address: "127.0.0.1",
            source_name: "127.0.0.1",
            source_state: "sync",
            source_mode: "client",
          });
          assert.equal(v("chrony_sources_polling_interval_seconds"), 64);
          assert.equal(v("chrony_sources_stratum"), 1);
          assert.ok(v("chrony_sources_reachability_ratio") > 0);
          assert.equal(v("chrony_sources_reachability_success"), 1);
          assert.ok(v("chrony_sources_last_sample_error_margin_seconds") > 0);
          assert.ok(v("chrony_sourcestats_samples") >= 3);
          assert.ok(v("chrony_sourcestats_stddev") >= 0);
          for (
            const c of [
              "chrony_serverstats_ntp_packets_received_total",
              "chrony_serverstats_command_packets_received_total",
              "chrony_serverstats_nts_ke_connections_accepted_total",
            ]
          ) {
            assert.equal(fams.find((f) => f.samples.some((s) => s.name === c))!.type, "counter");
            assert.ok(v(c) >= 0);
          }
          assert.match(
            one("horae_source_selection_info")[0]!.labels.reason!,
            /^selected: best score among 1 agreeing source/,
          );
          assert.ok(v("horae_clock_updates_total") >= 1);
          assert.equal(v("horae_clock_steps_total"), 0);
        },
      });

      await t.step("api/v1 and chronyc -j agree with the real chronyc -c", async () => {
        const list = JSON.parse((await get(http, "/api/v1")).text);
        assert.ok(list.reports.includes("selectdata"));
        for (const name of list.reports as string[]) {
          const r = await get(http, `/api/v1/${name}`);
          assert.ok(r.status === 200 || r.status === 503, `${name}: ${r.status}`);
          assert.match(r.type, /^application\/json/);
          const doc = JSON.parse(r.text);
          assert.equal(doc.api_version, 1);
        }
        const fields = (csv: string) => {
          const f = csv.trim().split(",");
          // stable between updates: all but system time and root dispersion (they move with time)
          return [0, 2, 3, 5, 6, 7, 8, 9, 10, 12, 13].map((i) => f[i]);
        };
        const [api, csv] = await steady(
          async () => [
            JSON.parse((await get(http, "/api/v1/tracking")).text).data,
            await chronyc("-c", "tracking"),
          ],
          (a, b) => fields(a[1]).join() === fields(b[1]).join(),
        );
        const f = csv.trim().split(",");
        assert.equal(api.reference_id, f[0]);
        assert.equal(String(api.stratum), f[2]);
        assert.ok(Math.abs(api.reference_time_unix_seconds - Number(f[3])) < 1e-6);
        assert.ok(Math.abs(api.last_offset_seconds - Number(f[5])) <= 5e-10);
        assert.ok(Math.abs(api.frequency_ppm - Number(f[7])) <= 5e-4);
        assert.ok(Math.abs(api.root_delay_seconds - Number(f[10])) <= 5e-10);
        assert.equal(api.leap_status, "normal");
        assert.equal(f[13], "Normal");

        // horae's chronyc -j over the command socket: same schema, same values
        const j = await runCommand(`${ROOT}/bin/chronyc`, ["-h", horae.socket, "-j", "sources"], {
          timeoutMs: 20_000,
        });
        assert.equal(j.code, 0, j.stderr);
        const src = JSON.parse(j.stdout).data;
        const row = (await chronyc("-c", "sources")).trim().split(",");
        assert.equal(src.length, 1);
        assert.deepEqual(
          [
            src[0].state_char,
            src[0].address,
            String(src[0].stratum),
            String(src[0].poll_log2_seconds),
          ],
          [row[1], row[2], row[3], row[4]],
        );
        assert.ok(Math.abs(src[0].last_sample_offset_seconds - Number(row[7])) <= 5e-10);
        const sel = JSON.parse((await get(http, "/api/v1/selectdata")).text).data[0];
        assert.equal(sel.state_char, (await chronyc("-c", "selectdata")).split(",")[0]);
        assert.match(sel.selection_reason, /^selected: /);
      });

      await t.step("read-only: POST gets 405, HEAD the headers only", async () => {
        const p = await fetch(`http://127.0.0.1:${http}/metrics`, { method: "POST", body: "x" });
        await p.body?.cancel();
        assert.equal(p.status, 405);
        assert.equal(p.headers.get("allow"), "GET, HEAD");
        const h = await fetch(`http://127.0.0.1:${http}/`, { method: "HEAD" });
        assert.equal(h.status, 200);
        assert.equal(await h.text(), "");
      });

      await t.step({
        name: "status page in headless Chromium: the plots hold data points",
        ignore: !withChromium,
        async fn() {
          // two history points after synchronisation (one every 5 s)
          await until("history", async () => {
            const h = JSON.parse((await get(http, "/api/v1/history")).text).data;
            return h.clock.length >= 2 &&
              Object.values(h.sources).some((s) => (s as unknown[]).length >= 2);
          });
          const dir = await Deno.makeTempDir({ prefix: "horae-chromium-" });
          try {
            const r = await runCommand(CHROMIUM, [
              "--headless",
              "--no-sandbox",
              "--disable-gpu",
              `--user-data-dir=${dir}`,
              "--virtual-time-budget=2000",
              "--dump-dom",
              `http://127.0.0.1:${http}/`,
            ], { timeoutMs: 90_000 });
            assert.equal(r.code, 0, r.stderr);
            const plots = [
              ...r.stdout.matchAll(
                /<svg class="plot" data-points="(\d+)"[^>]*aria-label="([^"]+)"/g,
              ),
            ]
              .map((m) => [m[2], Number(m[1])] as const);
            const by = Object.fromEntries(plots);
            for (
              const title of [
                "Clock offset",
                "Frequency",
                "Root distance",
                "Source offsets",
                "Source delays",
                "Source jitter",
              ]
            ) {
              assert.ok((by[title] ?? 0) >= 2, `${title}: ${by[title]} points`);
            }
            assert.match(r.stdout, /<td class="st">\*<\/td><td>selected: /);
          } finally {
            await Deno.remove(dir, { recursive: true }).catch(() => {});
          }
        },
      });
    } finally {
      await horae.stop();
      await server.stop();
    }
  },
});

/** Status line of a GET sent from local address `from` (python3 binds the source), or "" when closed unanswered. */
async function getFrom(from: string, port: number): Promise<string> {
  const script = `
import socket, sys
s = socket.socket()
s.settimeout(5)
s.bind((sys.argv[1], 0))
s.connect(("127.0.0.1", int(sys.argv[2])))
s.sendall(b"GET /api/v1/activity HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n")
data = b""
while True:
    b = s.recv(4096)
    if not b:
        break
    data += b
print(data.split(b"\\r\\n", 1)[0].decode())
`;
  const r = await runCommand(PYTHON, ["-c", script, from, String(port)], { timeoutMs: 15_000 });
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.trim();
}

Deno.test({
  name: "http: httpallow/httpdeny with cmdallow's rules; 127.0.0.1 always allowed",
  ignore: !enabled,
  async fn() {
    const port = freePort();
    const listening = async () => {
      try {
        return (await get(port, "/api/v1/activity")).status === 200;
      } catch {
        return false;
      }
    };
    const closed = await startHorae([`httpport ${port}`], { flags: ["-4"] });
    try {
      await until("listening", listening, 10_000);
      assert.equal(await getFrom("127.0.0.1", port), "HTTP/1.1 200 OK");
      // other loopback addresses are ordinary hosts: not allowed by default
      assert.equal(await getFrom("127.0.0.4", port), "");
    } finally {
      await closed.stop();
    }
    const open = await startHorae([
      `httpport ${port}`,
      "httpallow 127.0.0.0/8",
      "httpdeny 127.0.0.3",
    ], { flags: ["-4"] });
    try {
      await until("listening", listening, 10_000);
      assert.equal(await getFrom("127.0.0.4", port), "HTTP/1.1 200 OK");
      assert.equal(await getFrom("127.0.0.3", port), "");
    } finally {
      await open.stop();
    }
  },
});
