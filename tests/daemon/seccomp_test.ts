/**
 * chronyd(8) `-F`: horae's daemon (`-x`, loopback, a private directory) with
 * the system call filter loaded serves NTP (measured by the real `chronyd -Q`)
 * and cmdmon (the real `chronyc -n tracking`), every one of its threads shows
 * the filter (`Seccomp: 2`, `NoNewPrivs: 1` in /proc/PID/task/N/status), and
 * a forbidden call made through the test hook (`HORAE_TEST_SECCOMP_PROBE`,
 * triggered by SIGUSR2) kills it with SIGSYS at levels 1 and 2, or at level
 * -1 runs, is logged by the kernel, and the daemon goes on serving. `-Q`
 * (one-shot) runs under the filter too, with a name and with NTS.
 */
import assert from "node:assert/strict";
import {
  freePort,
  haveChrony,
  type HoraeDaemon,
  ROOT,
  runCommand,
  startChronyd,
  startHorae,
  wrongBy,
} from "../interop/harness.ts";
import { SECCOMP_RET, SYSCALLS } from "../../ffi/seccomp.ts";

const enabled = haveChrony() && ["x86_64", "aarch64"].includes(Deno.build.arch);

async function start(level: number, probe: string): Promise<HoraeDaemon & { port: number }> {
  const port = freePort();
  const d = await startHorae(
    [`port ${port}`, "bindaddress 127.0.0.1", "allow 127.0.0.1", "local stratum 5"],
    { filter: level, env: { HORAE_TEST_SECCOMP_PROBE: probe } },
  );
  return { ...d, port };
}

async function assertServes(d: HoraeDaemon & { port: number }): Promise<void> {
  const t = await runCommand("/usr/bin/chronyc", ["-n", "-h", d.socket, "tracking"], {
    timeoutMs: 10_000,
  });
  assert.equal(t.code, 0, t.stderr);
  assert.match(t.stdout, /^Stratum +: 5$/m, t.stdout);
  const q = await runCommand("/usr/sbin/chronyd", [
    "-Q",
    "-x",
    "-u",
    "root",
    "-t",
    "5",
    "-f",
    "/dev/null",
    `server 127.0.0.1 port ${d.port} iburst maxsamples 1`,
  ], { timeoutMs: 15_000 });
  assert.notEqual(wrongBy(q.stdout + q.stderr), null, q.stdout + q.stderr);
}

/** Seccomp mode and no_new_privs of every thread of `pid`. */
function threadStates(pid: number): string[] {
  return [...Deno.readDirSync(`/proc/${pid}/task`)].map((t) => {
    const s = Deno.readTextFileSync(`/proc/${pid}/task/${t.name}/status`);
    return `${s.match(/^Seccomp:\s*(\d)/m)?.[1]}/${s.match(/^NoNewPrivs:\s*(\d)/m)?.[1]}`;
  });
}

/** Time of a kernel log line (`[ 5544.138086] ...`, seconds since boot), -1 without one. */
function logTime(line: string): number {
  const m = line.match(/^\[\s*(\d+\.\d+)\]/);
  return m ? Number(m[1]) : -1;
}

/**
 * The time of the kernel log's newest line now (0 when it cannot be read): records
 * at or before it are older. (A line count would not do: the ring buffer drops old
 * lines once full.)
 */
async function kernelLogMark(): Promise<number> {
  const r = await runCommand("dmesg", [], { timeoutMs: 5000 }).catch(() => null);
  if (r?.code !== 0) return 0;
  return Math.max(0, ...r.stdout.split("\n").map(logTime));
}

/**
 * The kernel's seccomp records (audit type 1326) for `pid` logged after time `since`
 * (PIDs are reused over a long-lived kernel log): "call action"; null without dmesg.
 */
async function seccompRecordsOf(pid: number, since: number): Promise<string[] | null> {
  const r = await runCommand("dmesg", [], { timeoutMs: 5000 }).catch(() => null);
  if (r?.code !== 0) {
    console.warn("seccomp_test: dmesg not readable; the kernel's records are not checked");
    return null;
  }
  const col = Deno.build.arch === "x86_64" ? 0 : 1;
  const names = new Map(Object.entries(SYSCALLS).map(([n, row]) => [row[col], n]));
  return r.stdout.split("\n").filter((l) => logTime(l) > since).flatMap((l) => {
    const m = l.match(new RegExp(`type=1326 .* pid=${pid} .*syscall=(\\d+) .*code=(0x[0-9a-f]+)`));
    return m ? [`${names.get(Number(m[1])) ?? m[1]} ${Number(m[2])}`] : [];
  });
}

/**
 * {@link seccompRecordsOf}, asked again for up to 3 s while none has shown (the kernel
 * writes audit records from its own thread, late on a busy machine); null as well when
 * none shows and the kernel says it dropped audit messages meanwhile (its printk rate
 * limit, hit when other processes log seccomp records at the same time).
 */
async function settledRecordsOf(pid: number, since: number): Promise<string[] | null> {
  const end = Date.now() + 3000;
  for (;;) {
    const records = await seccompRecordsOf(pid, since);
    if (records === null || records.length > 0) return records;
    if (Date.now() >= end) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  const r = await runCommand("dmesg", [], { timeoutMs: 5000 });
  const dropped = r.stdout.split("\n").some((l) =>
    logTime(l) > since && /audit.*(callbacks suppressed|rate limit exceeded|backlog limit)/.test(l)
  );
  if (dropped) {
    console.warn("seccomp_test: the kernel dropped audit records; the kill's record not checked");
    return null;
  }
  return [];
}

async function exitWithin(child: Deno.ChildProcess, ms: number) {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<null>((r) => (timer = setTimeout(() => r(null), ms)));
  const s = await Promise.race([child.status, late]);
  clearTimeout(timer);
  return s;
}

for (const level of [1, 2]) {
  Deno.test({
    name: `seccomp: -F ${level} serves NTP and cmdmon on every thread; ptrace kills it (SIGSYS)`,
    ignore: !enabled,
    sanitizeResources: false,
    sanitizeOps: false,
    async fn() {
      const since = await kernelLogMark();
      const d = await start(level, "ptrace");
      try {
        await assertServes(d);
        const states = threadStates(d.child.pid);
        assert.ok(states.length >= 4, `threads: ${states}`);
        assert.deepEqual(states.filter((s) => s !== "2/1"), [], `every thread filtered: ${states}`);
        Deno.kill(d.child.pid, "SIGUSR2");
        const status = await exitWithin(d.child, 10_000);
        assert.ok(status, "the daemon survived a forbidden call");
        assert.equal(status.signal, "SIGSYS");
        // It was the probe's ptrace that killed it, not another call (when the log is readable).
        const records = await settledRecordsOf(d.child.pid, since);
        if (records !== null) assert.deepEqual(records, [`ptrace ${SECCOMP_RET.KILL_PROCESS}`]);
      } finally {
        const err = await d.stop();
        assert.match(err, new RegExp(`Loaded seccomp filter \\(level ${level}\\)`), err);
        assert.doesNotMatch(err, /Test probe/, err);
      }
    },
  });
}

Deno.test({
  name: "seccomp: -F -1 logs a forbidden socket(AF_PACKET) and keeps serving",
  ignore: !enabled,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const since = await kernelLogMark();
    const d = await start(-1, "packet");
    const pid = d.child.pid;
    let err = "";
    try {
      await assertServes(d);
      assert.deepEqual(threadStates(pid).filter((s) => s !== "2/1"), []);
      Deno.kill(pid, "SIGUSR2");
      // The kernel logs it (when its log is readable here): audit type 1326, code LOG.
      const dmesg = await runCommand("dmesg", [], { timeoutMs: 5000 }).catch(() => null);
      if (dmesg?.code === 0) {
        const want = new RegExp(`type=1326 .*pid=${pid} .*syscall=\\d+ .*code=0x7ffc0000`);
        let found = false;
        for (let i = 0; i < 50 && !found; i++) {
          const r = await runCommand("dmesg", [], { timeoutMs: 5000 });
          found = r.stdout.split("\n").some((l) => logTime(l) > since && want.test(l));
          if (!found) await new Promise((res) => setTimeout(res, 100));
        }
        assert.ok(found, "no seccomp LOG record in the kernel log");
      } else {
        console.warn("seccomp_test: dmesg not readable; the kernel's record is not checked");
        await new Promise((res) => setTimeout(res, 500));
      }
      await assertServes(d);
      assert.equal(await exitWithin(d.child, 200), null, "the daemon stopped");
    } finally {
      err = await d.stop();
    }
    assert.match(err, /Loaded seccomp filter \(level 1\)/, err);
    // The call ran: a descriptor, no errno.
    assert.match(err, /Test probe packet: result \d+ errno 0/, err);
  },
});

Deno.test({
  name: "seccomp: chronyd -F 1 -Q resolves a name and measures over NTS under the filter",
  ignore: !enabled,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const kePort = freePort();
    const ref = await startChronyd({ port: freePort(), ntsKePort: kePort });
    try {
      for (
        const lines of [
          [`server localhost port ${ref.port} iburst maxsamples 2`],
          [
            `ntstrustedcerts ${ref.cert}`,
            `server localhost port ${ref.port} nts ntsport ${kePort} iburst maxsamples 2`,
          ],
        ]
      ) {
        const child = new Deno.Command(`${ROOT}/bin/chronyd`, {
          args: ["-F", "1", "-Q", "-x", "-t", "10", "-f", "/dev/null", ...lines],
          stdout: "piped",
          stderr: "piped",
        }).spawn();
        const o = await child.output();
        const out = new TextDecoder().decode(o.stdout) + new TextDecoder().decode(o.stderr);
        assert.equal(o.signal, null, `killed: ${out}`);
        assert.match(out, /Loaded seccomp filter \(level 1\)/, out);
        assert.notEqual(wrongBy(out), null, out);
      }
    } finally {
      await ref.stop();
    }
  },
});

Deno.test({
  name: "seccomp: -F 3 is refused like chronyd ('Fatal error : Unsupported filter level')",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "horae-seccomp-" });
    try {
      await Deno.writeTextFile(
        `${dir}/c.conf`,
        `port 0\ncmdport 0\nbindcmdaddress ${dir}/c.sock\npidfile ${dir}/c.pid\n`,
      );
      const r = await runCommand(`${ROOT}/bin/chronyd`, [
        "-F",
        "3",
        "-d",
        "-x",
        "-f",
        `${dir}/c.conf`,
      ]);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /Fatal error : Unsupported filter level/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
