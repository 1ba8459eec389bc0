/**
 * Idle daemon benchmark: horae's `chronyd -d` beside the real `chronyd -d`, same run.
 *
 * Starts one real chronyd (`local stratum 1`, loopback high port) as the
 * reference server, then horae's `bin/chronyd -d -x -f CONF` and the real
 * `chronyd -d -x -u root -f CONF` at the same time with equivalent configs in
 * private chmod-700 temp dirs: one `server 127.0.0.1 port P iburst` (the
 * reference), `port 0` (no NTP serving), `cmdport 0`, a private
 * `bindcmdaddress`, `pidfile`. After `--seconds` (default 20) it prints, for
 * both and their ratio horae/chronyd:
 *
 * - resident memory: VmRSS and VmHWM from `/proc/PID/status` at the end;
 * - CPU time (utime + stime from `/proc/PID/stat`) during start-up (the first
 *   `warm-up` seconds) and after it, the latter in ms and in clock ticks per
 *   minute of wall time;
 * - the same idle CPU exactly: the scheduler's run time of the threads alive
 *   at the end (`/proc/PID/task/TID/schedstat`, ns), in ms per minute (clock
 *   ticks are sampled: a few ms of work count 0 or 1 tick);
 * - wake-ups per minute after the warm-up: context switches (voluntary +
 *   involuntary) of the process's threads alive at the end
 *   (`/proc/PID/task/TID/status`; a thread that ended takes its count along);
 * - whether each synchronised to the reference (`chronyc -n tracking` on its
 *   command socket, asked after the measurement).
 *
 * Beside them runs Deno's floor: an idle one-line script
 * (`setInterval(() => {}, 2 ** 30)`) on the same Deno with the same flags as
 * `bin/chronyd`. Its RSS is printed and horae's RSS is split, from
 * `/proc/PID/smaps`, into the Deno binary's mappings ("binary"), V8's
 * anonymous mappings ("V8 heap": V8 places its pages at random addresses
 * below 2^46 on x86-64, glibc's mappings lie above; its rwx code range
 * counts here too) and the rest ("other": malloc arenas, thread stacks,
 * shared libraries, the code cache).
 *
 * `--poll N` adds `minpoll N maxpoll N` to the server line (a busier client).
 * `--v8-flags A,B` runs horae (through `HORAE_V8_FLAGS`, see bin/horae) and
 * the floor with these V8 flags instead of lib/daemon/runtime_flags.ts's
 * (`--v8-flags ""`: V8's defaults), to compare.
 * When horae's daemon exits early (e.g. "daemon mode is not supported yet")
 * that is printed for horae and chronyd is still measured.
 *
 * Nothing touches the clock (`-x`). Every process started here is stopped by
 * its PID at the end, on error too, and on SIGINT/SIGTERM.
 *
 * Usage: `./denow run -A bench/idle.ts [--seconds 60] [--poll N]`
 *
 * @example
 * ```sh
 * ./denow run -A bench/idle.ts --seconds 10
 * ```
 * @module
 */
import { freePort, type RealChronyd, ROOT, startChronyd } from "../tests/interop/harness.ts";
import { V8_FLAGS } from "../lib/daemon/runtime_flags.ts";

function argNumber(name: string, fallback: number | null): number | null {
  const i = Deno.args.indexOf(name);
  if (i < 0) return fallback;
  const v = Number(Deno.args[i + 1]);
  if (!Number.isFinite(v)) throw new Error(`${name} needs a number`);
  return v;
}

const seconds = Math.max(2, argNumber("--seconds", 60)!);
const v8FlagsAt = Deno.args.indexOf("--v8-flags");
/** The V8 flags of horae and the floor (comma-separated; empty: V8's defaults). */
const v8Flags = v8FlagsAt >= 0 ? Deno.args[v8FlagsAt + 1] ?? "" : V8_FLAGS.join(",");
const poll = argNumber("--poll", null);
/**
 * Start-up window excluded from the idle rates: 10 s from 40 s on (iburst's
 * four requests two seconds apart are over by then, for both daemons), else
 * a quarter of the run up to 3 s.
 */
const warmup = seconds >= 40 ? 10 : Math.min(3, seconds / 4);

/** One daemon under measurement. */
interface Daemon {
  name: string;
  dir: string;
  child: Deno.ChildProcess;
  /** stderr + stdout collected so far. */
  output: string[];
  /** Resolves with the exit code when the process ends. */
  exited: Promise<number>;
  done: boolean;
}

const daemons: Daemon[] = [];
let server: RealChronyd | null = null;
/** Set once cleanup starts: no new process may be started after it. */
let stopping = false;
/** The reference server being started, awaited by cleanup so it is never left behind. */
let starting: Promise<unknown> = Promise.resolve();

async function stopDaemon(d: Daemon): Promise<void> {
  if (!d.done) {
    try {
      d.child.kill("SIGTERM");
    } catch { /* gone */ }
    const t = setTimeout(() => {
      try {
        d.child.kill("SIGKILL");
      } catch { /* gone */ }
    }, 3000);
    await d.exited;
    clearTimeout(t);
  }
  await Deno.remove(d.dir, { recursive: true }).catch(() => {});
}

let cleaning: Promise<void> | null = null;

/** Stops everything started here; every caller awaits the same single pass. */
function cleanup(): Promise<void> {
  stopping = true;
  cleaning ??= stopAll();
  return cleaning;
}

async function stopAll(): Promise<void> {
  const ds = daemons.splice(0);
  await Promise.all(ds.map(stopDaemon));
  await starting.catch(() => {});
  if (server !== null) {
    const s = server;
    server = null;
    await s.stop();
  }
}

for (const sig of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(sig, () => {
    cleanup().finally(() => Deno.exit(sig === "SIGINT" ? 130 : 143));
  });
}

async function collect(stream: ReadableStream<Uint8Array>, into: string[]): Promise<void> {
  const dec = new TextDecoder();
  for await (const chunk of stream) into.push(dec.decode(chunk, { stream: true }));
}

async function startDaemon(
  name: string,
  cmd: string,
  flags: string[],
  refPort: number,
): Promise<Daemon> {
  if (stopping) throw new Error("stopping");
  const dir = await Deno.makeTempDir({ prefix: `horae-bench-idle-${name}-` });
  await Deno.chmod(dir, 0o700);
  const server = `server 127.0.0.1 port ${refPort} iburst` +
    (poll === null ? "" : ` minpoll ${poll} maxpoll ${poll}`);
  const conf = [
    server,
    "port 0",
    "cmdport 0",
    `bindcmdaddress ${dir}/chronyd.sock`,
    `pidfile ${dir}/chronyd.pid`,
    "",
  ].join("\n");
  await Deno.writeTextFile(`${dir}/chronyd.conf`, conf);
  if (stopping) throw new Error("stopping");
  const child = new Deno.Command(cmd, {
    args: [...flags, "-f", `${dir}/chronyd.conf`],
    env: { HORAE_V8_FLAGS: v8Flags },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const output: string[] = [];
  const d: Daemon = { name, dir, child, output, exited: Promise.resolve(0), done: false };
  const streams = Promise.all([collect(child.stdout, output), collect(child.stderr, output)]);
  d.exited = child.status.then(async (s) => {
    d.done = true;
    await streams.catch(() => {});
    return s.code;
  });
  daemons.push(d);
  return d;
}

/** utime + stime of a process in ms, or null when it is gone. */
function cpuMs(pid: number, ticksPerSecond: number): number | null {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    // Fields after the ")" that closes comm: state is field 3, utime 14, stime 15.
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const utime = Number(rest[11]), stime = Number(rest[12]);
    return ((utime + stime) * 1000) / ticksPerSecond;
  } catch {
    return null;
  }
}

/** VmRSS and VmHWM in KiB, or null when the process is gone. */
function memKiB(pid: number): { rss: number; hwm: number } | null {
  try {
    const s = Deno.readTextFileSync(`/proc/${pid}/status`);
    return {
      rss: Number(s.match(/VmRSS:\s+(\d+)/)?.[1] ?? NaN),
      hwm: Number(s.match(/VmHWM:\s+(\d+)/)?.[1] ?? NaN),
    };
  } catch {
    return null;
  }
}

/**
 * `parse` of each thread's `/proc/PID/task/TID/FILE` by thread id (threads
 * that end meanwhile are left out), or null when the process is gone.
 */
function perThread(
  pid: number,
  file: string,
  parse: (text: string) => number,
): Map<string, number> | null {
  try {
    const byThread = new Map<string, number>();
    for (const t of Deno.readDirSync(`/proc/${pid}/task`)) {
      try {
        byThread.set(t.name, parse(Deno.readTextFileSync(`/proc/${pid}/task/${t.name}/${file}`)));
      } catch { /* thread ended */ }
    }
    return byThread;
  } catch {
    return null;
  }
}

/** Context switches (voluntary + involuntary) per thread id, or null when the process is gone. */
function switches(pid: number): Map<string, number> | null {
  return perThread(
    pid,
    "status",
    (s) =>
      Number(s.match(/^voluntary_ctxt_switches:\s+(\d+)/m)?.[1] ?? 0) +
      Number(s.match(/^nonvoluntary_ctxt_switches:\s+(\d+)/m)?.[1] ?? 0),
  );
}

/** Run time in ns (schedstat) per thread id, or null when the process is gone. */
function runNs(pid: number): Map<string, number> | null {
  return perThread(pid, "schedstat", (s) => Number(s.split(" ")[0]));
}

/** Context switches (or run time) between two snapshots: threads alive at the end (new ones from zero). */
function switchesBetween(a: Map<string, number>, b: Map<string, number>): number {
  let n = 0;
  for (const [tid, count] of b) n += count - (a.get(tid) ?? 0);
  return n;
}

/** RSS in KiB split into the Deno binary's mappings, V8's anonymous mappings and the rest. */
interface RssSplit {
  binary: number;
  v8: number;
  other: number;
}

/**
 * Splits the RSS of `pid` from /proc/PID/smaps: mappings of `exe` (the Deno
 * binary), anonymous mappings below 2^46 or executable (V8's pages and code
 * range) and everything else.
 */
function rssSplit(pid: number): RssSplit | null {
  let text: string, exe: string;
  try {
    text = Deno.readTextFileSync(`/proc/${pid}/smaps`);
    exe = Deno.readLinkSync(`/proc/${pid}/exe`);
  } catch {
    return null;
  }
  const split: RssSplit = { binary: 0, v8: 0, other: 0 };
  let kind: keyof RssSplit = "other";
  for (const line of text.split("\n")) {
    const head = line.match(/^([0-9a-f]+)-[0-9a-f]+ (\S+) \S+ \S+ \S+\s*(.*)$/);
    if (head) {
      const start = parseInt(head[1]!, 16);
      const path = head[3]!;
      if (path === exe) kind = "binary";
      else if (path === "" && (start < 2 ** 46 || head[2]!.includes("x"))) kind = "v8";
      else kind = "other";
      continue;
    }
    const rss = line.match(/^Rss:\s+(\d+)/);
    if (rss) split[kind] += Number(rss[1]);
  }
  return split;
}

/** Deno's floor: an idle one-line script on the same Deno with bin/chronyd's flags. */
async function startFloor(): Promise<Daemon> {
  if (stopping) throw new Error("stopping");
  const dir = await Deno.makeTempDir({ prefix: "horae-bench-idle-floor-" });
  await Deno.writeTextFile(`${dir}/floor.ts`, "setInterval(() => {}, 2 ** 30);\n");
  if (stopping) throw new Error("stopping");
  const child = new Deno.Command(`${ROOT}/denow`, {
    args: [
      "run",
      "-A",
      "--quiet",
      "--no-prompt",
      "--config",
      `${ROOT}/deno.json`,
      ...(v8Flags ? [`--v8-flags=${v8Flags}`] : []),
      `${dir}/floor.ts`,
    ],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const d: Daemon = {
    name: "floor",
    dir,
    child,
    output: [],
    exited: Promise.resolve(0),
    done: false,
  };
  d.exited = child.status.then((s) => {
    d.done = true;
    return s.code;
  });
  daemons.push(d);
  return d;
}

async function clockTicks(): Promise<number> {
  try {
    const o = await new Deno.Command("getconf", { args: ["CLK_TCK"], stdout: "piped" }).output();
    const n = Number(new TextDecoder().decode(o.stdout).trim());
    return n > 0 ? n : 100;
  } catch {
    return 100;
  }
}

/** The `Reference ID` line of `chronyc -n tracking` on the daemon's socket. */
async function tracking(d: Daemon): Promise<string> {
  if (d.done || stopping) return "-";
  const child = new Deno.Command("/usr/bin/chronyc", {
    args: ["-n", "-h", `${d.dir}/chronyd.sock`, "tracking"],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const t = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
  }, 3000);
  const o = await child.output();
  clearTimeout(t);
  const dec = new TextDecoder();
  const text = dec.decode(o.stdout) + dec.decode(o.stderr);
  const ref = text.match(/^Reference ID\s*:\s*(.*)$/m)?.[1];
  return ref ?? (text.trim().split("\n")[0] || `chronyc exit ${o.code}`);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Figures of one daemon. */
interface Figures {
  rss: number;
  hwm: number;
  startupCpuMs: number;
  idleCpuMsPerMin: number;
  /** The same from the scheduler's run time (schedstat, ns) of the threads alive at the end. */
  idleRunMsPerMin: number;
  /** Context switches of all threads per minute after the warm-up. */
  wakeupsPerMin: number;
  split: RssSplit | null;
  reference: string;
}

function ratio(h: number, c: number): string {
  if (c === 0 && Number.isFinite(h)) return "n/a (chronyd below one clock tick)";
  return Number.isFinite(h) && Number.isFinite(c) && c > 0 ? (h / c).toFixed(2) : "-";
}

try {
  const ticks = await clockTicks();
  const ref = startChronyd({ port: freePort() }).then((s) => (server = s));
  starting = ref;
  server = await ref;
  if (stopping) throw new Error("stopping");
  const horae = await startDaemon("horae", `${ROOT}/bin/chronyd`, ["-d", "-x"], server.port);
  const chrony = await startDaemon(
    "chronyd",
    "/usr/sbin/chronyd",
    ["-d", "-x", "-u", "root"],
    server.port,
  );
  const floor = await startFloor();
  const all = [horae, chrony, floor];
  const t0 = performance.now();
  await sleep(warmup * 1000);
  const cpuAtWarmup = new Map<Daemon, number | null>();
  const swAtWarmup = new Map<Daemon, Map<string, number> | null>();
  const runAtWarmup = new Map<Daemon, Map<string, number> | null>();
  const tWarm = performance.now();
  for (const d of all) {
    cpuAtWarmup.set(d, d.done ? null : cpuMs(d.child.pid, ticks));
    swAtWarmup.set(d, d.done ? null : switches(d.child.pid));
    runAtWarmup.set(d, d.done ? null : runNs(d.child.pid));
  }
  await sleep(Math.max(0, seconds * 1000 - (performance.now() - t0)));
  const tEnd = performance.now();
  const figures = new Map<Daemon, Figures | null>();
  for (const d of all) {
    const mem = d.done ? null : memKiB(d.child.pid);
    const cpu = d.done ? null : cpuMs(d.child.pid, ticks);
    const sw = d.done ? null : switches(d.child.pid);
    const run = d.done ? null : runNs(d.child.pid);
    const run0 = runAtWarmup.get(d) ?? null;
    const cpu0 = cpuAtWarmup.get(d) ?? null;
    const sw0 = swAtWarmup.get(d) ?? null;
    if (mem === null || cpu === null || cpu0 === null) {
      figures.set(d, null);
      continue;
    }
    figures.set(d, {
      rss: mem.rss,
      hwm: mem.hwm,
      startupCpuMs: cpu0,
      idleCpuMsPerMin: ((cpu - cpu0) / (tEnd - tWarm)) * 60_000,
      idleRunMsPerMin: run === null || run0 === null
        ? NaN
        : (switchesBetween(run0, run) / 1e6 / (tEnd - tWarm)) * 60_000,
      wakeupsPerMin: sw === null || sw0 === null
        ? NaN
        : (switchesBetween(sw0, sw) / (tEnd - tWarm)) * 60_000,
      split: d === chrony ? null : rssSplit(d.child.pid),
      reference: "",
    });
  }
  for (const d of [horae, chrony]) {
    const f = figures.get(d);
    if (f) f.reference = await tracking(d);
  }

  console.log(
    `Idle client daemon, ${seconds} s: one server (the real chronyd 4.3 on 127.0.0.1:${server.port}, ` +
      `iburst${
        poll === null ? "" : `, minpoll/maxpoll ${poll}`
      }), port 0, -x; both started together.`,
  );
  console.log(
    "Measured: VmRSS/VmHWM from /proc/PID/status at the end; CPU = utime+stime from " +
      `/proc/PID/stat (CLK_TCK ${ticks}): start-up = first ${warmup} s, idle = the rest in ms ` +
      "per minute of wall time; run = the same from the threads' schedstat run time (ns, exact); " +
      "horae's PID is the deno process (bin/chronyd and denow exec).",
  );
  console.log(
    "Wake-ups = context switches of all threads per minute after the warm-up; floor = Deno's " +
      "own idle one-line script (same Deno, bin/chronyd's flags); RSS split from /proc/PID/smaps.",
  );
  console.log(`V8 flags (horae and floor): ${v8Flags || "(none: V8's defaults)"}`);
  const head = `  ${"".padEnd(8)} ${"VmRSS KiB".padStart(10)} ${"VmHWM KiB".padStart(10)} ${
    "start-up CPU ms".padStart(16)
  } ${"idle CPU ms/min".padStart(16)} ${"ticks/min".padStart(9)} ${"run ms/min".padStart(10)} ${
    "wake-ups/min".padStart(12)
  }   reference`;
  console.log(head);
  for (const d of all) {
    const f = figures.get(d);
    if (f) {
      console.log(
        `  ${d.name.padEnd(8)} ${String(f.rss).padStart(10)} ${String(f.hwm).padStart(10)} ${
          f.startupCpuMs.toFixed(0).padStart(16)
        } ${f.idleCpuMsPerMin.toFixed(1).padStart(16)} ${
          (f.idleCpuMsPerMin * ticks / 1000).toFixed(1).padStart(9)
        } ${f.idleRunMsPerMin.toFixed(2).padStart(10)} ${
          f.wakeupsPerMin.toFixed(0).padStart(12)
        }   ${d === floor ? "-" : f.reference}`,
      );
    } else {
      const code = d.done ? await d.exited : null;
      const text = d.output.join("");
      const unsupported = /daemon mode is not supported yet/.test(text);
      const last = text.trim().split("\n").filter((l) => !/starting \(|exiting$/.test(l)).slice(-2)
        .join(" | ");
      console.log(
        `  ${d.name.padEnd(8)} ${
          unsupported
            ? "NOT MEASURED: daemon mode is not supported yet"
            : `NOT MEASURED: exited early (code ${code ?? "?"})`
        }: ${last}`,
      );
    }
  }
  const fh = figures.get(horae), fc = figures.get(chrony), ff = figures.get(floor);
  for (const [d, f] of [[horae, fh], [floor, ff]] as const) {
    if (!f?.split) continue;
    const x = f.split;
    console.log(
      `  ${d.name} RSS split KiB: binary ${x.binary}, V8 heap ${x.v8}, other ${x.other}`,
    );
  }
  if (fh && fc) {
    const tickDiff = ((fh.idleCpuMsPerMin - fc.idleCpuMsPerMin) * ticks) / 1000;
    // run time counts every ns (threads alive at the end); ticks are sampled, whole ones only
    const runTickDiff = ((fh.idleRunMsPerMin - fc.idleRunMsPerMin) * ticks) / 1000;
    console.log(
      `  ratio horae/chronyd: VmRSS ${ratio(fh.rss, fc.rss)}, VmHWM ${ratio(fh.hwm, fc.hwm)}, ` +
        `start-up CPU ${ratio(fh.startupCpuMs, fc.startupCpuMs)}, idle CPU ${
          ratio(fh.idleCpuMsPerMin, fc.idleCpuMsPerMin)
        } (horae - chronyd: ${tickDiff.toFixed(1)} ticks/min sampled, ${
          runTickDiff.toFixed(2)
        } from run time; target <= 1), wake-ups ${
          fc.wakeupsPerMin > 0 ? ratio(fh.wakeupsPerMin, fc.wakeupsPerMin) : "n/a (chronyd 0)"
        }`,
    );
  }
  if (fh && ff) {
    console.log(
      `  ratio horae/Deno floor: VmRSS ${ratio(fh.rss, ff.rss)} (target <= 1.25)`,
    );
  }
} catch (e) {
  if (!stopping) throw e; // else a signal is stopping this run: its handler exits
} finally {
  await cleanup();
}
