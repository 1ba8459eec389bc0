/**
 * One-shot benchmark: horae's `chronyd -Q` beside the real `chronyd -Q`, same run.
 *
 * Starts one real chronyd (`local stratum 1`, `-x -u root`, private chmod-700
 * dir, loopback high port) as the reference server, then for each case runs
 * horae's `bin/chronyd -Q -t T '<line>'` and the real
 * `chronyd -Q -t T -f /dev/null '<line>'` alternately, N times each (one
 * unmeasured warm-up run of each first), and prints the median/min/max wall
 * time of each process, the ratio horae/chrony of the medians, and the median
 * |offset| each printed (`System clock wrong by X seconds`).
 *
 * Cases: `iburst maxsamples 1` (`-t 5`: the ntpdate-style probe) and plain
 * `iburst` (`-t 10`: time to the first clock update after the initial burst).
 *
 * Nothing touches the clock (`-Q` only). Every process started here is
 * stopped by its PID at the end, on error too, and on SIGINT/SIGTERM.
 *
 * Usage: `./denow run -A bench/oneshot.ts [--runs 10]`
 *
 * @example
 * ```sh
 * ./denow run -A bench/oneshot.ts --runs 5
 * ```
 * @module
 */
import {
  freePort,
  type RealChronyd,
  ROOT,
  startChronyd,
  wrongBy,
} from "../tests/interop/harness.ts";

/** One measured process. */
interface Run {
  /** Wall time from spawn to exit, ms. */
  wallMs: number;
  /** `System clock wrong by X` (s), null when absent. */
  offset: number | null;
  /** Exit code. */
  code: number;
  /** Its stderr and stdout, for failure reports. */
  output: string;
}

function argNumber(name: string, fallback: number): number {
  const i = Deno.args.indexOf(name);
  if (i < 0) return fallback;
  const v = Number(Deno.args[i + 1]);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`${name} needs a positive number`);
  return v;
}

const runs = Math.floor(argNumber("--runs", 10));
const HORAE = `${ROOT}/bin/chronyd`;
const CHRONYD = "/usr/sbin/chronyd";

/** The child running now, so a signal can stop it. */
let current: Deno.ChildProcess | null = null;
let server: RealChronyd | null = null;
/** Set once cleanup starts: no new process may be started after it. */
let stopping = false;
/** The reference server being started, awaited by cleanup so it is never left behind. */
let starting: Promise<unknown> = Promise.resolve();

let cleaning: Promise<void> | null = null;

/** Stops everything started here; every caller awaits the same single pass. */
function cleanup(): Promise<void> {
  stopping = true;
  cleaning ??= stopAll();
  return cleaning;
}

async function stopAll(): Promise<void> {
  if (current !== null) {
    try {
      current.kill("SIGKILL");
    } catch { /* gone */ }
    current = null;
  }
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

/** Runs one process, timing it from spawn to exit; SIGKILL after `timeoutMs`. */
async function timed(cmd: string, args: string[], timeoutMs: number): Promise<Run> {
  if (stopping) throw new Error("stopping");
  const start = performance.now();
  const child = new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).spawn();
  current = child;
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
  }, timeoutMs);
  try {
    const o = await child.output();
    const wallMs = performance.now() - start;
    const dec = new TextDecoder();
    const output = dec.decode(o.stderr) + dec.decode(o.stdout);
    return { wallMs, offset: wrongBy(output), code: o.code, output };
  } finally {
    clearTimeout(timer);
    current = null;
  }
}

function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function fmtMs(x: number): string {
  return Number.isFinite(x) ? x.toFixed(0) : "-";
}

function fmtOffset(x: number): string {
  if (!Number.isFinite(x)) return "-";
  return x < 1e-3 ? `${(x * 1e6).toFixed(0)} us` : `${(x * 1e3).toFixed(3)} ms`;
}

/** Summary of one implementation's runs. */
interface Summary {
  ok: number;
  median: number;
  min: number;
  max: number;
  medianAbsOffset: number;
  firstFailure: string | null;
}

function summarise(rs: Run[]): Summary {
  const good = rs.filter((r) => r.code === 0 && r.offset !== null);
  const walls = good.map((r) => r.wallMs);
  const bad = rs.find((r) => !(r.code === 0 && r.offset !== null));
  return {
    ok: good.length,
    median: median(walls),
    min: walls.length ? Math.min(...walls) : NaN,
    max: walls.length ? Math.max(...walls) : NaN,
    medianAbsOffset: median(good.map((r) => Math.abs(r.offset!))),
    firstFailure: bad
      ? `exit ${bad.code}: ${bad.output.trim().split("\n").slice(-3).join(" | ")}`
      : null,
  };
}

async function benchCase(port: number, options: string, t: number): Promise<string[]> {
  const line = `server 127.0.0.1 port ${port} ${options}`;
  const horaeArgs = ["-Q", "-t", String(t), line];
  const chronyArgs = ["-Q", "-t", String(t), "-f", "/dev/null", line];
  const timeoutMs = (t + 10) * 1000;
  // One warm-up run of each (file caches, Deno's module cache), not counted.
  await timed(HORAE, horaeArgs, timeoutMs);
  await timed(CHRONYD, chronyArgs, timeoutMs);
  const h: Run[] = [], c: Run[] = [];
  for (let i = 0; i < runs; i++) {
    h.push(await timed(HORAE, horaeArgs, timeoutMs));
    c.push(await timed(CHRONYD, chronyArgs, timeoutMs));
  }
  const sh = summarise(h), sc = summarise(c);
  const row = (name: string, s: Summary) =>
    `  ${name.padEnd(8)} ${fmtMs(s.median).padStart(7)} ${fmtMs(s.min).padStart(7)} ${
      fmtMs(s.max).padStart(7)
    }   ${fmtOffset(s.medianAbsOffset).padStart(10)}   ${s.ok}/${runs}`;
  const out = [
    `'${options}' (-t ${t}):`,
    `  ${"".padEnd(8)} ${"median".padStart(7)} ${"min".padStart(7)} ${"max".padStart(7)}   ${
      "med|offset|".padStart(10)
    }   ok`,
    row("horae", sh),
    row("chronyd", sc),
    `  ratio horae/chronyd (median wall time): ${(sh.median / sc.median).toFixed(2)}`,
  ];
  if (sh.firstFailure) out.push(`  horae failed: ${sh.firstFailure}`);
  if (sc.firstFailure) out.push(`  chronyd failed: ${sc.firstFailure}`);
  return out;
}

try {
  const ref = startChronyd({ port: freePort() }).then((s) => (server = s));
  starting = ref;
  server = await ref;
  if (stopping) throw new Error("stopping");
  console.log(
    `chronyd -Q one-shot against the real chronyd 4.3 (local stratum 1) on 127.0.0.1:${server.port}, ` +
      `${runs} runs each, alternating horae/chronyd; wall times in ms.`,
  );
  console.log(
    "Measured: wall time of each process from spawn to exit (performance.now in this Deno " +
      "process; horae's includes Deno start-up via bin/chronyd -> denow -> deno), after one " +
      "unmeasured warm-up run each; offsets parsed from 'System clock wrong by X seconds'; " +
      "min/max/median over the runs that printed an offset and exited 0.",
  );
  for (const line of await benchCase(server.port, "iburst maxsamples 1", 5)) console.log(line);
  for (const line of await benchCase(server.port, "iburst", 10)) console.log(line);
} catch (e) {
  if (!stopping) throw e; // else a signal is stopping this run: its handler exits
} finally {
  await cleanup();
}
