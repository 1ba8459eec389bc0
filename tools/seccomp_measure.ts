/**
 * Measures the system calls horae's daemon makes once its seccomp filter is
 * loaded, to keep `ALLOWED` in ffi/seccomp.ts true:
 *
 *     deno run -A tools/seccomp_measure.ts [--seconds N] [--no-tests] [--keep DIR]
 *
 * Every daemon runs under `strace -f -qq` with `-F -1` (the filter logs a
 * call outside the list instead of killing, and its own `seccomp(...)` call
 * marks in the trace where start-up ends). Two workloads:
 * 1. a scenario (default 45 s) against the real chronyd: an NTP and an NTS
 *    source, an NTP + NTS-KE server used by a real chronyd NTS client and by
 *    `chronyd -Q`, SOCK and SHM refclocks, log files, the driftfile, dumps,
 *    `reload sources`, `add`/`delete`, and the real `chronyc -n` over the Unix
 *    socket and UDP (tracking, sources, clients, serverstats, dump,
 *    cyclelogs, rekey, ...), SIGUSR1 (ignored) and SIGTERM; then `chronyd -Q`
 *    one-shots (an address, a name, a pool, NTS);
 * 2. every interop test that starts horae's daemon through the harness
 *    (`HORAE_STRACE_DIR`, `HORAE_TEST_FILTER=-1`).
 *
 * The one-shots also run once without strace: the kernel logs every call a
 * `-F -1` filter lets through (audit type 1326), read back with dmesg when
 * it can be (strace's slowness can move a lazy call before the filter).
 * Prints each call seen after the filter was loaded with its count, the
 * socket domains, prctl operations and clone flags, the kernel's records,
 * then the calls missing from `ALLOWED` and the allowed calls not seen.
 * Needs strace and chrony.
 *
 * @module
 */
import { ALLOWED, SYSCALLS } from "../ffi/seccomp.ts";
import {
  freePort,
  makeCert,
  ROOT,
  runCommand,
  startChronyd,
  startHorae,
} from "../tests/interop/harness.ts";
import { encodeSockSample } from "../lib/refclock/sock.ts";
import { realNow } from "../lib/io/realtime.ts";

const args = [...Deno.args];
const flag = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const seconds = Number(flag("--seconds") ?? 45);
const runTests = !args.includes("--no-tests");
const keep = flag("--keep");

/** Every interop test that starts horae's daemon through the harness. */
const INTEROP_TESTS = [...Deno.readDirSync(`${ROOT}/tests/interop`)]
  .map((e) => `tests/interop/${e.name}`)
  .filter((f) =>
    f.endsWith("_test.ts") && /startHorae\(/.test(Deno.readTextFileSync(`${ROOT}/${f}`))
  )
  .sort();

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function chronyc(target: string[], cmd: string): Promise<void> {
  await runCommand("/usr/bin/chronyc", ["-n", ...target, ...cmd.split(" ")], {
    timeoutMs: 10_000,
  });
}

/** The scenario: every feature the daemon has, for `seconds`. */
async function scenario(seconds: number): Promise<void> {
  const certDir = await Deno.makeTempDir({ prefix: "horae-scmeasure-" });
  const own = await makeCert(certDir);
  const refKe = freePort();
  const ref = await startChronyd({ port: freePort(), ntsKePort: refKe });
  const ntpPort = freePort(), kePort = freePort(), cmdPort = freePort();
  const horae = await startHorae([
    `server 127.0.0.1 port ${ref.port} iburst minpoll 0 maxpoll 1`,
    `server localhost port ${ref.port} nts ntsport ${refKe} iburst minpoll 0 maxpoll 1`,
    `ntstrustedcerts ${ref.cert}`,
    `port ${ntpPort}`,
    "bindaddress 127.0.0.1",
    "allow 127.0.0.0/8",
    `ntsport ${kePort}`,
    `ntsserverkey ${own.key}`,
    `ntsservercert ${own.cert}`,
    "ntsdumpdir DIR",
    `cmdport ${cmdPort}`,
    "bindcmdaddress 127.0.0.1",
    "refclock SOCK DIR/gps.sock refid GPS poll 1 dpoll 0",
    "refclock SHM 7 refid SHM poll 1 dpoll 0",
    "logdir DIR",
    "log measurements statistics tracking refclocks selection",
    "dumpdir DIR",
    "dumponexit",
    "sourcedir DIR",
    "driftfile DIR/drift",
  ], { filter: -1 });
  const client = await startChronyd({
    lines: [
      `server 127.0.0.1 port ${ntpPort} nts ntsport ${kePort} iburst minpoll 0 maxpoll 1`,
      `ntstrustedcerts ${own.cert}`,
    ],
  });
  const unix = ["-h", horae.socket];
  const udp = ["-h", "127.0.0.1", "-p", String(cmdPort)];
  const feeder = Deno.listenDatagram({
    transport: "unixpacket",
    path: `${horae.dir}/feed.sock`,
  });
  const end = performance.now() + seconds * 1000;
  let round = 0;
  try {
    while (performance.now() < end) {
      const sample = encodeSockSample({
        systemTime: realNow(),
        offset: 2e-6,
        leap: 0,
        pulse: false,
      });
      await feeder.send(sample, { transport: "unixpacket", path: `${horae.dir}/gps.sock` })
        .catch(() => {});
      const cmds = [
        "tracking",
        "sources -v",
        "sourcestats -v",
        "ntpdata",
        "authdata",
        "selectdata",
        "clients",
        "clients -k",
        "serverstats",
        "activity",
        "smoothing",
        "rtcdata",
        "waitsync 1",
      ];
      await chronyc(round % 2 ? unix : udp, cmds[round % cmds.length]!);
      if (round % 5 === 0) {
        await runCommand("/usr/sbin/chronyd", [
          "-Q",
          "-x",
          "-u",
          "root",
          "-t",
          "3",
          "-f",
          "/dev/null",
          `server 127.0.0.1 port ${ntpPort} iburst maxsamples 2`,
        ], { timeoutMs: 10_000 });
      }
      switch (round % 12) {
        case 3:
          await chronyc(unix, "dump");
          await chronyc(unix, "cyclelogs");
          break;
        case 5:
          await Deno.writeTextFile(
            `${horae.dir}/extra.sources`,
            `server 127.0.0.2 port ${ref.port} iburst minpoll 0 maxpoll 1\n`,
          );
          await chronyc(unix, "reload sources");
          break;
        case 7:
          await Deno.remove(`${horae.dir}/extra.sources`).catch(() => {});
          await chronyc(unix, "reload sources");
          await chronyc(unix, `add server 127.0.0.3 port ${ref.port} iburst`);
          // A name resolved by the running daemon (glibc's resolver).
          await chronyc(unix, `add server localhost port ${freePort()} iburst`);
          break;
        case 9:
          await chronyc(unix, "delete 127.0.0.3");
          await chronyc(unix, "burst 2/4");
          await chronyc(unix, "rekey");
          await chronyc(unix, "refresh");
          await chronyc(unix, "reselect");
          break;
        case 11:
          await chronyc(unix, "offline");
          await chronyc(unix, "online");
          await chronyc(unix, "cmdaccheck 127.0.0.1");
          await chronyc(unix, "accheck 127.0.0.1");
          try {
            Deno.kill(Number(Deno.readTextFileSync(`${horae.dir}/chronyd.pid`)), "SIGUSR1");
          } catch { /* gone */ }
          break;
      }
      round++;
      await sleep(300);
    }
    // chronyd -Q/-q: one-shot measurements (names resolved, NTS-KE) under the filter.
    for (
      const source of [
        `server 127.0.0.1 port ${ref.port} iburst maxsamples 2`,
        `server localhost port ${ref.port} iburst maxsamples 2`,
        `pool localhost port ${ref.port} iburst maxsamples 2`,
        `server localhost port ${ref.port} nts ntsport ${refKe} iburst maxsamples 2`,
      ]
    ) {
      // Once as it runs (the kernel logs what the filter lets through), once under strace.
      await runCommand(`${ROOT}/bin/chronyd`, [
        "-F",
        "-1",
        "-Q",
        "-x",
        "-t",
        "5",
        "-f",
        "/dev/null",
        ...(source.includes(" nts ") ? [`ntstrustedcerts ${ref.cert}`] : []),
        source,
      ], { timeoutMs: 20_000 });
      const trace = `${Deno.env.get("HORAE_STRACE_DIR")}/oneshot.${
        crypto.randomUUID().slice(0, 8)
      }.strace`;
      await runCommand("strace", [
        "-f",
        "-qq",
        "-o",
        trace,
        `${ROOT}/bin/chronyd`,
        "-F",
        "-1",
        "-Q",
        "-x",
        "-t",
        "5",
        "-f",
        "/dev/null",
        ...(source.includes(" nts ") ? [`ntstrustedcerts ${ref.cert}`] : []),
        source,
      ], { timeoutMs: 20_000 });
    }
  } finally {
    feeder.close();
    await client.stop();
    const err = await horae.stop();
    await ref.stop();
    await Deno.remove(certDir, { recursive: true }).catch(() => {});
    if (!/Loaded seccomp filter/.test(err)) console.error(`scenario daemon said:\n${err}`);
  }
}

interface Seen {
  calls: Map<string, number>;
  domains: Map<string, number>;
  prctl: Map<string, number>;
  clone: Map<string, number>;
  files: number;
  unmarked: number;
}

/** Reads every `*.strace` in `dir`, keeping what follows each file's seccomp() call. */
export function analyse(dir: string): Seen {
  const seen: Seen = {
    calls: new Map(),
    domains: new Map(),
    prctl: new Map(),
    clone: new Map(),
    files: 0,
    unmarked: 0,
  };
  const bump = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);
  for (const e of Deno.readDirSync(dir)) {
    if (!e.name.endsWith(".strace")) continue;
    seen.files++;
    const lines = Deno.readTextFileSync(`${dir}/${e.name}`).split("\n");
    const start = lines.findIndex((l) => /\bseccomp\(SECCOMP_SET_MODE_FILTER/.test(l));
    if (start < 0) {
      seen.unmarked++;
      continue;
    }
    for (const line of lines.slice(start + 1)) {
      const m = line.match(/^\d+\s+([a-z0-9_]+)\((.*)$/);
      if (!m) continue;
      const [, name, rest] = m as unknown as [string, string, string];
      bump(seen.calls, name);
      if (name === "socket") bump(seen.domains, rest.split(",")[0]!);
      if (name === "prctl") bump(seen.prctl, rest.split(",")[0]!);
      if (name === "clone" || name === "clone3") {
        bump(seen.clone, `${name} ${rest.match(/flags=([A-Z_|]+)/)?.[1] ?? "?"}`);
      }
    }
  }
  return seen;
}

function show(title: string, m: Map<string, number>): void {
  const rows = [...m].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`);
  console.log(`${title} (${rows.length}): ${rows.join(", ")}`);
}

/** The kernel log's lines (dmesg), or null when it cannot be read here. */
async function kernelLog(): Promise<string[] | null> {
  const r = await runCommand("dmesg", [], { timeoutMs: 10_000 }).catch(() => null);
  return r?.code === 0 ? r.stdout.split("\n") : null;
}

/**
 * seccomp records (audit type 1326) from Deno processes in `lines`: what a
 * `-F -1` filter let through (code 0x7ffc0000) or a `-F 1` one killed, by
 * call name. strace slows the daemon down and can move a lazy call before
 * the filter; the kernel's own record has no such effect.
 */
export function seccompRecords(lines: string[]): Map<string, number> {
  const byNr = new Map<number, string>();
  const col = Deno.build.arch === "x86_64" ? 0 : 1;
  for (const [name, row] of Object.entries(SYSCALLS)) {
    if (row[col] !== null) byNr.set(row[col]!, name);
  }
  const out = new Map<string, number>();
  for (const l of lines) {
    const m = l.match(/type=1326 .*exe="[^"]*\/deno" .*syscall=(\d+) .*code=(0x[0-9a-f]+)/);
    if (!m) continue;
    const name = byNr.get(Number(m[1])) ?? `#${m[1]}`;
    const key = `${name} ${m[2] === "0x7ffc0000" ? "logged" : "killed"}`;
    out.set(key, (out.get(key) ?? 0) + 1);
  }
  return out;
}

if (import.meta.main) {
  const dir = keep ?? await Deno.makeTempDir({ prefix: "horae-strace-" });
  const logBefore = (await kernelLog())?.length ?? null;
  Deno.env.set("HORAE_STRACE_DIR", dir);
  Deno.env.set("HORAE_TEST_FILTER", "-1");
  console.log(`traces in ${dir}`);
  if (seconds > 0) {
    console.log(`scenario: ${seconds} s`);
    await scenario(seconds);
  }
  if (runTests) {
    console.log(`interop tests: ${INTEROP_TESTS.join(" ")}`);
    const r = await new Deno.Command(`${ROOT}/denow`, {
      args: ["test", "-A", ...INTEROP_TESTS],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const out = new TextDecoder().decode(r.stdout);
    console.log(out.split("\n").filter((l) => /passed|failed|FAILED/.test(l)).join("\n"));
  }
  const seen = analyse(dir);
  console.log(`${seen.files} traces, ${seen.unmarked} without a seccomp() call (not counted)`);
  show("calls after the filter", seen.calls);
  show("socket domains", seen.domains);
  show("prctl operations", seen.prctl);
  show("clone", seen.clone);
  const allowed = new Set(ALLOWED);
  const special = new Set(["clone3"]);
  const missing = [...seen.calls.keys()].filter((c) => !allowed.has(c) && !special.has(c));
  console.log(`missing from ALLOWED: ${missing.sort().join(" ") || "none"}`);
  const unknown = missing.filter((c) => !(c in SYSCALLS));
  if (unknown.length) console.log(`not in SYSCALLS either: ${unknown.join(" ")}`);
  const after = await kernelLog();
  if (after === null || logBefore === null) console.log("kernel log: not readable here");
  else {
    // Also holds the probes of tests/daemon/seccomp_test.ts (ptrace, socket) if run meanwhile.
    show("kernel log: seccomp records of Deno processes", seccompRecords(after.slice(logBefore)));
  }
  const unseen = ALLOWED.filter((c) => !seen.calls.has(c));
  console.log(`allowed, not seen: ${unseen.join(" ") || "none"}`);
  if (!keep) await Deno.remove(dir, { recursive: true });
}
