/**
 * `deno run -A bench/f323.ts [--seconds N] [--step-at N] [--step S]`:
 * `extfield F323` frequency transfer, horae and the real chronyd 4.3 side by
 * side. A fake stratum-1 upstream on loopback (this machine's clock) is
 * stepped by `--step` seconds (default 5 ms) `--step-at` seconds in; a horae
 * server and a chronyd 4.3 server (`-x`) follow it every second; each has
 * two clients polling it every second, one with `extfield F323` and one
 * without, the chronyd server also a horae client with F323. Every second
 * the clients' `sourcestats` (samples kept, Freq) and the servers'
 * `tracking` Frequency are read with the real `chronyc -n`; printed: after
 * the step, each one's largest |Freq| (ppm) and fewest samples kept, and
 * for the servers also their source's (`sourcestats` of the stepped upstream:
 * a window that straddles the step claims a large frequency, issue 17).
 *
 * A client with F323 keeps its frequency estimate through the server's own
 * offset corrections (its monotonic receive timestamps leave them out), but
 * not through the server's frequency changes, which the field includes (as
 * chronyd's does: measured here, a chronyd -x following a source 20 ppm off
 * keeps monotonic minus receive constant).
 *
 * @module
 */
import {
  fakeServer,
  freePort,
  runCommand,
  startChronyd,
  startHorae,
} from "../tests/interop/harness.ts";

const arg = (name: string, def: number) => {
  const i = Deno.args.indexOf(name);
  return i >= 0 ? Number(Deno.args[i + 1]) : def;
};
const SECONDS = arg("--seconds", 90), STEP_AT = arg("--step-at", 40), STEP = arg("--step", 0.005);

async function chronyc(socket: string, cmd: string): Promise<string> {
  return (await runCommand("/usr/bin/chronyc", ["-n", "-h", socket, cmd], { timeoutMs: 5000 }))
    .stdout;
}

let shift = 0;
const upPort = freePort();
const up = fakeServer(upPort, () => shift);
const follow = `server 127.0.0.1 port ${upPort} iburst minpoll 0 maxpoll 0`;
const hPort = freePort(), cPort = freePort();
const poll = (port: number, f323: boolean) =>
  `server 127.0.0.1 port ${port} iburst minpoll 0 maxpoll 0${f323 ? " extfield F323" : ""}`;
type Daemon = { socket: string; stop(): Promise<unknown> };
const servers: [string, Daemon][] = [
  ["horae server", await startHorae([follow, `port ${hPort}`, "bindaddress 127.0.0.1", "allow"])],
  ["chronyd server", await startChronyd({ port: cPort, lines: [follow] })],
];
const clients: [string, Daemon][] = [
  ["chronyd F323 -> horae", await startChronyd({ lines: [poll(hPort, true)] })],
  ["chronyd plain -> horae", await startChronyd({ lines: [poll(hPort, false)] })],
  ["chronyd F323 -> chronyd", await startChronyd({ lines: [poll(cPort, true)] })],
  ["chronyd plain -> chronyd", await startChronyd({ lines: [poll(cPort, false)] })],
  ["horae F323 -> chronyd", await startHorae([poll(cPort, true)])],
];
const worst = new Map<string, { freq: number; samples: number; straddle?: number | undefined }>();
/** chronyc's Span: seconds, or with a unit (m, h, d, y). */
const spanSeconds = (v = "") => {
  const m = v.match(/^(\d+)([mhdy]?)$/);
  return m ? Number(m[1]) * ({ "": 1, m: 60, h: 3600, d: 86400, y: 31536000 }[m[2]!] ?? NaN) : NaN;
};
const start = Date.now();
let stepTime = 0;
try {
  while (Date.now() - start < SECONDS * 1000) {
    const stepped = Date.now() - start >= STEP_AT * 1000;
    if (stepped && shift === 0) {
      shift = STEP;
      stepTime = Date.now();
    }
    for (const [name, d] of [...servers, ...clients]) {
      const row = (await chronyc(d.socket, "sourcestats")).split("\n")
        .find((x) => x.startsWith("127.0.0.1"))?.trim().split(/\s+/) ?? [];
      const sourceRow: [string, number, number] = [
        `${name}'s source`,
        Number(row[4]),
        Number(row[1]),
      ];
      const rows: [string, number, number][] = [sourceRow];
      if (name.endsWith("server")) {
        const l = (await chronyc(d.socket, "tracking")).match(/^Frequency\s*: (\S+) ppm (\w+)/m);
        rows.unshift([name, l ? Number(l[1]) * (l[2] === "slow" ? -1 : 1) : NaN, Infinity]);
      } else sourceRow[0] = name;
      for (const [key, freq, samples] of rows) {
        if (!stepped || !Number.isFinite(freq)) continue;
        const w = worst.get(key) ?? { freq: 0, samples: Infinity };
        worst.set(key, {
          freq: Math.max(w.freq, Math.abs(freq)),
          samples: Math.min(w.samples, samples),
          straddle: w.straddle,
        });
      }
      // A server's source is the stepped upstream: until when did its window hold a sample
      // from before the step (span longer than the time since the step; chronyc rounds it to 1 s)?
      const since = (Date.now() - stepTime) / 1000, w = worst.get(sourceRow[0]);
      if (name.endsWith("server") && w && spanSeconds(row[3]) > since + 0.5) w.straddle = since;
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
} finally {
  for (const [, d] of [...clients, ...servers]) await d.stop();
  await up.stop();
}
console.log(`upstream stepped by ${STEP} s at ${STEP_AT} s; after it (${SECONDS - STEP_AT} s):`);
for (const [name, w] of worst) {
  let kept = Number.isFinite(w.samples) ? `, fewest samples ${w.samples}` : "";
  if (name.endsWith("server's source")) {
    kept += `, pre-step samples kept until +${(w.straddle ?? 0).toFixed(0)} s`;
  }
  console.log(`${name.padEnd(30)} largest |Freq| ${w.freq.toFixed(3)} ppm${kept}`);
}
