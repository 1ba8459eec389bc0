/**
 * The daemon as root with `-x -u nobody`, `-m` and `-P`: reads
 * /proc/PID/status and /proc/PID/sched, and queries it with the real chronyc
 * through its Unix socket. Skipped when not root (failing under CI=true).
 */
import assert from "node:assert/strict";

const ROOT = new URL("../../", import.meta.url).pathname;
const isRoot = Deno.uid() === 0;
const inCi = Deno.env.get("CI") === "true";
const chronyc = ["/usr/bin/chronyc", "/usr/sbin/chronyc"].find((p) => {
  try {
    return Deno.statSync(p).isFile;
  } catch {
    return false;
  }
});
if (!isRoot && !inCi) console.warn("privdrop_test: not root; skipping (CI=true makes this fail)");

interface Running {
  pid: number;
  dir: string;
  socket: string;
  child: Deno.ChildProcess;
}

/** Starts `bin/chronyd -x -d ARGS` with a private directory; waits for its command socket. */
async function startDaemon(args: string[], wrap: string[] = []): Promise<Running> {
  const dir = await Deno.makeTempDir({ prefix: "horae_privdrop_" });
  await Deno.chmod(dir, 0o755); // nobody must reach its socket directory inside
  const socket = `${dir}/run/chronyd.sock`;
  await Deno.writeTextFile(
    `${dir}/chrony.conf`,
    [
      "port 0",
      "cmdport 0",
      `bindcmdaddress ${socket}`,
      `pidfile ${dir}/run/chronyd.pid`,
      `driftfile ${dir}/run/drift`,
      "",
    ].join("\n"),
  );
  const argv = [`${ROOT}bin/chronyd`, "-x", "-d", "-f", `${dir}/chrony.conf`, ...args];
  const child = new Deno.Command(wrap[0] ?? argv[0]!, {
    args: wrap.length ? [...wrap.slice(1), ...argv] : argv.slice(1),
    stdout: "null",
    stderr: "piped",
  }).spawn();
  for (let i = 0; i < 100; i++) {
    await new Promise((r) => setTimeout(r, 100));
    try {
      const pid = Number((await Deno.readTextFile(`${dir}/run/chronyd.pid`)).trim());
      const log = await statusOf(pid);
      // The user switch is the last start-up step: wait for it when asked.
      if (!args.includes("-u") || !/^Uid:\s+0\s/m.test(log)) {
        await Deno.stat(socket);
        return { pid, dir, socket, child };
      }
    } catch { /* not yet */ }
  }
  child.kill("SIGKILL");
  const err = new TextDecoder().decode((await child.output()).stderr);
  throw new Error(`daemon did not start: ${err}`);
}

async function stopDaemon(r: Running): Promise<string> {
  try {
    Deno.kill(r.pid, "SIGTERM");
  } catch { /* gone */ }
  const out = await r.child.output();
  await Deno.remove(r.dir, { recursive: true });
  return new TextDecoder().decode(out.stderr);
}

function statusOf(pid: number): Promise<string> {
  return Deno.readTextFile(`/proc/${pid}/status`);
}

function field(status: string, name: string): string {
  const m = status.match(new RegExp(`^${name}:[ \\t]*(.*)$`, "m"));
  assert.ok(m, `${name} in /proc/PID/status`);
  return m[1]!.trim();
}

Deno.test({
  name:
    "privdrop: -u nobody leaves uid/gid nobody, no groups, only CAP_SYS_TIME; chronyc still works",
  ignore: !isRoot && !inCi,
  async fn() {
    assert.ok(isRoot, "must run as root under CI=true");
    assert.ok(chronyc, "the real chronyc is needed");
    const r = await startDaemon(["-u", "nobody"]);
    let log = "";
    try {
      const s = await statusOf(r.pid);
      assert.deepEqual(field(s, "Uid").split(/\s+/), ["65534", "65534", "65534", "65534"]);
      assert.deepEqual(field(s, "Gid").split(/\s+/), ["65534", "65534", "65534", "65534"]);
      assert.equal(field(s, "Groups"), "");
      assert.equal(BigInt("0x" + field(s, "CapEff")), 1n << 25n); // CAP_SYS_TIME only
      assert.equal(BigInt("0x" + field(s, "CapPrm")), 1n << 25n);
      assert.equal(BigInt("0x" + field(s, "CapInh")), 0n);
      assert.equal(BigInt("0x" + field(s, "CapAmb")), 0n);
      // Deno's other threads end with no capability at all.
      for await (const t of Deno.readDir(`/proc/${r.pid}/task`)) {
        if (Number(t.name) === r.pid) continue;
        const ts = await Deno.readTextFile(`/proc/${r.pid}/task/${t.name}/status`).catch(() => "");
        if (ts === "") continue; // thread exited
        assert.equal(field(ts, "Uid").split(/\s+/)[1], "65534");
        assert.equal(BigInt("0x" + field(ts, "CapEff")), 0n, `thread ${t.name}`);
      }
      const st = await Deno.stat(`${r.dir}/run`);
      assert.equal(st.uid, 65534, "socket directory created owned by the user");
      const out = await new Deno.Command(chronyc!, {
        args: ["-h", r.socket, "tracking"],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = new TextDecoder().decode(out.stdout);
      assert.ok(out.success, new TextDecoder().decode(out.stderr));
      assert.match(text, /^Reference ID\s+:/m);
      assert.match(text, /^Leap status\s+: Not synchronised/m);
    } finally {
      log = await stopDaemon(r);
    }
    assert.match(log, /Dropped root privileges \(user nobody, uid 65534\)/);
    assert.doesNotMatch(log, /Could not|Fatal/);
  },
});

Deno.test({
  name: "privdrop: -m locks memory (VmLck > 0) and the daemon keeps answering",
  ignore: !isRoot && !inCi,
  async fn() {
    assert.ok(isRoot, "must run as root under CI=true");
    const r = await startDaemon(["-m", "-u", "nobody"]);
    try {
      const s = await statusOf(r.pid);
      const kb = Number(field(s, "VmLck").split(/\s+/)[0]);
      assert.ok(kb > 0, `VmLck ${kb} kB`);
      if (chronyc) {
        const out = await new Deno.Command(chronyc, {
          args: ["-h", r.socket, "tracking"],
          stdout: "null",
          stderr: "null",
        }).output();
        assert.ok(out.success);
      }
    } finally {
      await stopDaemon(r);
    }
  },
});

Deno.test({
  name: "privdrop: -P 10 runs the daemon's thread under SCHED_FIFO priority 10",
  ignore: !isRoot && !inCi,
  async fn() {
    assert.ok(isRoot, "must run as root under CI=true");
    const r = await startDaemon(["-P", "10", "-u", "nobody"]);
    let log = "";
    let sched = "";
    try {
      sched = await Deno.readTextFile(`/proc/${r.pid}/sched`);
    } finally {
      log = await stopDaemon(r);
    }
    if (/Could not set SCHED_FIFO priority 10 : sched_setscheduler: EPERM/.test(log)) {
      console.warn("privdrop_test: the kernel refused SCHED_FIFO (EPERM, container?); not checked");
      return;
    }
    assert.match(sched, /^policy\s+:\s+1$/m); // SCHED_FIFO
    assert.match(sched, /^prio\s+:\s+89$/m); // kernel prio = 99 - rt priority
  },
});

Deno.test({
  name: "privdrop: without CAP_SYS_TIME in the bounding set (a container), -x -u still starts",
  ignore: !isRoot && !inCi,
  async fn() {
    assert.ok(isRoot, "must run as root under CI=true");
    const r = await startDaemon(["-u", "nobody"], ["setpriv", "--bounding-set=-sys_time", "--"]);
    let log = "";
    try {
      const s = await statusOf(r.pid);
      assert.equal(field(s, "Uid").split(/\s+/)[0], "65534");
      assert.equal(BigInt("0x" + field(s, "CapEff")), 0n);
    } finally {
      log = await stopDaemon(r);
    }
    assert.match(log, /Capabilities not held, not kept: CAP_SYS_TIME/);
    assert.doesNotMatch(log, /Fatal/);
  },
});
