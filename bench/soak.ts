/**
 * Soak: horae's daemon and the real chronyd 4.3, side by side with the same
 * configuration and the same load, for a bounded time; prints each one's
 * resident memory (VmRSS) and open descriptors (/proc/PID/fd) at every
 * interval and says at the end whether both levelled off (the last third of
 * the samples against the middle third; the first third is warm-up).
 *
 * Load, the same for both daemons, all on loopback:
 * - NTP: `--rate` client requests a second (default 200), sent in batches
 *   every 100 ms from one UDP socket per daemon, replies counted (a steady
 *   rate: bench/ntpload.c is a closed-loop throughput loader, which would
 *   make the load depend on each daemon's speed and hold both cores);
 * - NTS-KE churn: one full handshake a second (horae's client, in this
 *   process) to each daemon's NTS-KE server (self-signed certificate);
 * - cmdmon: the real `chronyc -n` every 2 s (tracking, sources, sourcestats,
 *   clients, serverstats, ntpdata, activity in turn);
 * - a source coming and going: `chronyc add server 127.0.0.2 ...` and
 *   `delete 127.0.0.2` alternately, every 10 s (short mode) or 30 s; the
 *   daemons also follow a steady real chronyd on 127.0.0.1 and write the
 *   measurements/statistics/tracking logs and the driftfile.
 *
 * Usage: `./denow task bench:soak [SECONDS] [--short] [--interval S] [--rate N] [--filter LEVEL]`
 * (default 600 s, a sample every 60 s; `--short`: 60 s, every 10 s;
 * `--filter 1` runs both daemons with `-F 1`).
 *
 * Safety: `-x` (the clock is never touched), `-u root` and a private
 * chmod-700 directory for the real chronyd, high random ports, every process
 * stopped by its PID at the end, on error and on SIGINT/SIGTERM.
 *
 * @example
 * ```sh
 * ./denow task bench:soak --short
 * ```
 * @module
 */
import { TlsContext } from "../ffi/libssl.ts";
import { ntsKeExchange } from "../lib/io/nts_ke_client.ts";
import { NTS_KE_ALPN } from "../lib/nts/ke_records.ts";
import {
  freePort,
  type HoraeDaemon,
  makeCert,
  type RealChronyd,
  runCommand,
  startChronyd,
  startHorae,
} from "../tests/interop/harness.ts";

const args = [...Deno.args];
function option(name: string): number | undefined {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const v = Number(args[i + 1]);
  if (!Number.isFinite(v)) throw new Error(`soak: ${name} needs a number`);
  args.splice(i, 2);
  return v;
}
const short = args.includes("--short");
if (short) args.splice(args.indexOf("--short"), 1);
const interval = option("--interval") ?? (short ? 10 : 60);
const rate = option("--rate") ?? 200;
const filter = option("--filter") ?? 0;
const seconds = args[0] !== undefined ? Number(args[0]) : short ? 60 : 600;
if (!(seconds > 0 && seconds <= 24 * 3600) || !(interval > 0) || !(rate > 0 && rate <= 20_000)) {
  console.error("usage: bench/soak.ts [SECONDS] [--short] [--interval S] [--rate N] [--filter L]");
  Deno.exit(2);
}
const sourcePeriod = short ? 10 : 30;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One daemon under test, as the load sees it. */
interface Target {
  name: string;
  pid: number;
  ntpPort: number;
  kePort: number;
  socket: string;
  /** Counters since the previous sample. */
  sent: number;
  replies: number;
  ke: number;
  keFailed: number;
  cmd: number;
  cmdFailed: number;
  samples: { t: number; rssKiB: number; fds: number }[];
}

function rssKiB(pid: number): number {
  const s = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(s.match(/^VmRSS:\s+(\d+) kB/m)?.[1] ?? NaN);
}

function openFds(pid: number): number {
  let n = 0;
  for (const _ of Deno.readDirSync(`/proc/${pid}/fd`)) n++;
  return n;
}

/** A mode-3 NTPv4 request with a random transmit timestamp. */
function request(): Uint8Array {
  const p = new Uint8Array(48);
  p[0] = (4 << 3) | 3;
  crypto.getRandomValues(p.subarray(40, 48));
  return p;
}

/** Steady NTP load on `t` until `end` (performance.now()). */
async function ntpLoad(t: Target, end: number): Promise<void> {
  const sock = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const to: Deno.NetAddr = { transport: "udp", hostname: "127.0.0.1", port: t.ntpPort };
  const receiving = (async () => {
    try {
      for await (const [bytes] of sock) {
        if (bytes.length >= 48 && (bytes[0]! & 7) === 4) t.replies++;
      }
    } catch { /* closed */ }
  })();
  const perTick = rate / 10;
  let owed = 0;
  while (performance.now() < end) {
    owed += perTick;
    for (; owed >= 1; owed--) {
      await sock.send(request(), to).catch(() => {});
      t.sent++;
    }
    await sleep(100);
  }
  await sleep(300);
  sock.close();
  await receiving;
}

async function keChurn(targets: Target[], ca: string, end: number): Promise<void> {
  const ctx = TlsContext.client({ alpn: [NTS_KE_ALPN], caFiles: [ca], systemCerts: false });
  try {
    while (performance.now() < end) {
      const next = performance.now() + 1000;
      for (const t of targets) {
        try {
          await ntsKeExchange({
            host: "localhost",
            address: "127.0.0.1",
            port: t.kePort,
            context: ctx,
            timeoutMs: 3000,
          });
          t.ke++;
        } catch {
          t.keFailed++;
        }
      }
      await sleep(Math.max(0, next - performance.now()));
    }
  } finally {
    ctx.free();
  }
}

const COMMANDS = [
  "tracking",
  "sources",
  "sourcestats",
  "clients",
  "serverstats",
  "ntpdata",
  "activity",
];

async function chronyc(t: Target, cmd: string): Promise<boolean> {
  const r = await runCommand("/usr/bin/chronyc", ["-n", "-h", t.socket, ...cmd.split(" ")], {
    timeoutMs: 10_000,
  });
  return r.code === 0;
}

async function cmdmonPolling(targets: Target[], end: number, upstream2: number): Promise<void> {
  let i = 0, added = false, lastFlip = performance.now();
  while (performance.now() < end) {
    const next = performance.now() + 2000;
    for (const t of targets) {
      if (await chronyc(t, COMMANDS[i % COMMANDS.length]!)) t.cmd++;
      else t.cmdFailed++;
    }
    if (performance.now() - lastFlip >= sourcePeriod * 1000) {
      lastFlip = performance.now();
      for (const t of targets) {
        const ok = await chronyc(
          t,
          added
            ? "delete 127.0.0.2"
            : `add server 127.0.0.2 port ${upstream2} iburst minpoll 0 maxpoll 1`,
        );
        if (ok) t.cmd++;
        else t.cmdFailed++;
      }
      added = !added;
    }
    i++;
    await sleep(Math.max(0, next - performance.now()));
  }
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/** The verdict for one daemon: last third against middle third. */
function verdict(t: Target): string {
  const n = t.samples.length;
  if (n < 3) return `${t.name}: too few samples (${n})`;
  const middle = t.samples.slice(Math.floor(n / 3), Math.floor((2 * n) / 3));
  const last = t.samples.slice(Math.floor((2 * n) / 3));
  const rssMid = mean(middle.map((s) => s.rssKiB)) / 1024;
  const rssLast = mean(last.map((s) => s.rssKiB)) / 1024;
  const fdMid = Math.max(...middle.map((s) => s.fds));
  const fdLast = Math.max(...last.map((s) => s.fds));
  // Level: the last third's mean RSS within 5 % (at least 2 MB) of the middle
  // third's, and no more descriptors than the middle third's peak plus the
  // two NTS-KE/cmdmon connections that may be open at a sample.
  const rssLevel = rssLast - rssMid <= Math.max(2, rssMid * 0.05);
  const fdLevel = fdLast <= fdMid + 2;
  return `${t.name}: RSS middle ${rssMid.toFixed(1)} MB -> last ${rssLast.toFixed(1)} MB (${
    rssLast >= rssMid ? "+" : ""
  }${(rssLast - rssMid).toFixed(1)}) ${
    rssLevel ? "level" : "GROWING"
  }; descriptors middle max ${fdMid} -> last max ${fdLast} ${fdLevel ? "level" : "GROWING"}`;
}

function fmtRow(t: Target, s: { rssKiB: number; fds: number }, dt: number): string {
  const r = `${(s.rssKiB / 1024).toFixed(1)} MB`.padStart(9);
  const f = String(s.fds).padStart(4);
  const ntp = `${Math.round(t.replies / dt)}/${Math.round(t.sent / dt)}`.padStart(9);
  const ke = `${t.ke}${t.keFailed ? `(-${t.keFailed})` : ""}`.padStart(6);
  const cmd = `${t.cmd}${t.cmdFailed ? `(-${t.cmdFailed})` : ""}`.padStart(6);
  return `${r} ${f} ${ntp} ${ke} ${cmd}`;
}

async function main(): Promise<number> {
  const certDir = await Deno.makeTempDir({ prefix: "horae-soak-" });
  const started: { stop(): Promise<unknown> }[] = [];
  const stopAll = async () => {
    for (const s of started.splice(0).reverse()) await s.stop().catch(() => {});
    await Deno.remove(certDir, { recursive: true }).catch(() => {});
  };
  const onSignal = () => {
    stopAll().finally(() => Deno.exit(130));
  };
  for (const sig of ["SIGINT", "SIGTERM"] as const) Deno.addSignalListener(sig, onSignal);
  try {
    const { cert, key } = await makeCert(certDir);
    const upstream = await startChronyd({ port: freePort() });
    started.push(upstream);
    const upstream2 = await startChronyd({ port: freePort(), address: "127.0.0.2" });
    started.push(upstream2);
    // The same lines for both; the harness adds the port, bindaddress, pidfile, driftfile and
    // command socket (and `local stratum 1`, `allow 127.0.0.0/8` for chronyd as a server).
    await Deno.mkdir(`${certDir}/chronyd-log`);
    const lines = (kePort: number, logdir: string) => [
      `server 127.0.0.1 port ${upstream.port} iburst minpoll 0 maxpoll 2`,
      "local stratum 1",
      "allow 127.0.0.0/8",
      `ntsport ${kePort}`,
      `ntsserverkey ${key}`,
      `ntsservercert ${cert}`,
      `logdir ${logdir}`,
      "log measurements statistics tracking",
    ];
    const hPorts = [freePort(), freePort()] as const;
    const horae: HoraeDaemon = await startHorae(
      [`port ${hPorts[0]}`, "bindaddress 127.0.0.1", ...lines(hPorts[1], "DIR")],
      { filter },
    );
    started.push(horae);
    const cPorts = [freePort(), freePort()] as const;
    const chrony: RealChronyd = await startChronyd({
      port: cPorts[0],
      lines: lines(cPorts[1], `${certDir}/chronyd-log`),
      flags: filter ? ["-F", String(filter)] : [],
    });
    started.push(chrony);
    const target = (name: string, pid: number, ports: readonly number[], socket: string) => ({
      name,
      pid,
      ntpPort: ports[0]!,
      kePort: ports[1]!,
      socket,
      sent: 0,
      replies: 0,
      ke: 0,
      keFailed: 0,
      cmd: 0,
      cmdFailed: 0,
      samples: [],
    });
    const targets: Target[] = [
      target("horae", horae.child.pid, hPorts, horae.socket),
      target("chronyd 4.3", chrony.pid, cPorts, chrony.socket),
    ];
    console.log(
      `soak: ${seconds} s, a sample every ${interval} s; NTP ${rate} req/s, 1 NTS-KE/s, chronyc every 2 s, ` +
        `a source added/deleted every ${sourcePeriod} s${filter ? `, both with -F ${filter}` : ""}`,
    );
    console.log(
      "   t    |   horae: RSS  fds  NTP rx/tx/s   KE  cmds |  chronyd 4.3: RSS  fds  NTP rx/tx/s   KE  cmds",
    );
    const t0 = performance.now();
    const end = t0 + seconds * 1000;
    const load = [
      ...targets.map((t) => ntpLoad(t, end)),
      keChurn(targets, cert, end),
      cmdmonPolling(targets, end, upstream2.port),
    ];
    let last = t0;
    for (let k = 1; k * interval * 1000 <= seconds * 1000 + 1; k++) {
      await sleep(Math.max(0, t0 + k * interval * 1000 - performance.now()));
      const now = performance.now(), dt = (now - last) / 1000;
      last = now;
      const cells = targets.map((t) => {
        const s = { t: (now - t0) / 1000, rssKiB: rssKiB(t.pid), fds: openFds(t.pid) };
        t.samples.push(s);
        const row = fmtRow(t, s, dt);
        t.sent =
          t.replies =
          t.ke =
          t.keFailed =
          t.cmd =
          t.cmdFailed =
            0;
        return row;
      });
      console.log(`${String(Math.round((now - t0) / 1000)).padStart(5)} s | ${cells.join(" | ")}`);
    }
    await Promise.all(load);
    console.log("levelled off? (last third of the samples against the middle third)");
    for (const t of targets) console.log(`  ${verdict(t)}`);
    const herr = await horae.stop();
    if (/Fatal|killed/i.test(herr)) console.log(`horae said:\n${herr}`);
    return 0;
  } finally {
    await stopAll();
    for (const sig of ["SIGINT", "SIGTERM"] as const) Deno.removeSignalListener(sig, onSignal);
  }
}

Deno.exit(await main());
