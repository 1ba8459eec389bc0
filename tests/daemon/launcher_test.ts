/**
 * The launchers in bin/ as a user runs them: `chronyd -p` over every shipped
 * example configuration, a typo reported with file:line, `-v`, and bin/ as a
 * drop-in directory for chrony's binaries.
 */
import assert from "node:assert/strict";
import { runCommand, sharedPath, startHorae } from "../interop/harness.ts";

const ROOT = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");
const EXAMPLES = sharedPath("examples");

async function run(cmd: string, args: string[], env: Record<string, string> = {}) {
  const o = await new Deno.Command(cmd, {
    args,
    stdout: "piped",
    stderr: "piped",
    env,
    cwd: "/tmp",
  }).output();
  const dec = new TextDecoder();
  return { code: o.code, stdout: dec.decode(o.stdout), stderr: dec.decode(o.stderr) };
}

function examples(): string[] {
  try {
    return [...Deno.readDirSync(EXAMPLES)].map((e) => e.name).filter((n) => n.endsWith(".conf"))
      .sort();
  } catch {
    return [];
  }
}

Deno.test("bin/chronyd -p -f FILE exits 0 for every shipped example and prints its directives", async () => {
  const files = examples();
  if (files.length === 0 && Deno.env.get("CI")) throw new Error("shared/examples not found");
  for (const f of files) {
    const r = await run(`${ROOT}/bin/chronyd`, ["-p", "-f", `${EXAMPLES}/${f}`]);
    assert.equal(r.code, 0, `${f}: ${r.stderr}`);
    assert.ok(r.stdout.trim().length > 0, f);
  }
});

Deno.test("a typo in the configuration names the file and line and exits non-zero", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/c.conf`, "server 192.0.2.1 iburst\nmakestpe 1 3\n");
    const r = await run(`${ROOT}/bin/chronyd`, ["-p", "-f", `${dir}/c.conf`]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, new RegExp(`${dir}/c\\.conf:2: .*makestpe`));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("bin/ works as a drop-in directory: chronyd and chronyc from PATH are horae", async () => {
  const path = `${ROOT}/bin:${Deno.env.get("PATH") ?? "/usr/bin:/bin"}`;
  const d = await run("sh", ["-c", "chronyd -v"], { PATH: path });
  assert.equal(d.code, 0, d.stderr);
  assert.match(d.stdout, /^chronyd \(horae\) version /);
  const c = await run("sh", ["-c", "chronyc -v"], { PATH: path });
  assert.equal(c.code, 0, c.stderr);
  assert.match(c.stdout, /^chronyc \(horae\) version /);
});

Deno.test("without -d or -n chronyd detaches: the parent exits 0, the daemon writes its pidfile", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.chmod(dir, 0o700);
  let pid = 0;
  try {
    await Deno.writeTextFile(
      `${dir}/c.conf`,
      `port 0\ncmdport 0\nbindcmdaddress ${dir}/chronyd.sock\npidfile ${dir}/chronyd.pid\n`,
    );
    const r = await run(`${ROOT}/bin/chronyd`, ["-x", "-f", `${dir}/c.conf`, "-l", `${dir}/log`]);
    assert.equal(r.code, 0, r.stderr);
    pid = Number((await Deno.readTextFile(`${dir}/chronyd.pid`)).trim());
    assert.ok(pid > 0);
    assert.ok(Deno.statSync(`/proc/${pid}`).isDirectory, "daemon not running");
    const log = await Deno.readTextFile(`${dir}/log`);
    assert.equal(log.match(/starting/g)?.length, 1, log);
    // The detached daemon is named chronyd as the launched one is.
    assert.deepEqual(await processName(pid), { comm: "chronyd", argv0: "chronyd" });
  } finally {
    if (pid > 0) {
      Deno.kill(pid, "SIGTERM");
      for (let i = 0; i < 100; i++) {
        try {
          Deno.statSync(`/proc/${pid}`);
        } catch {
          break;
        }
        await new Promise((res) => setTimeout(res, 50));
      }
    }
    await Deno.remove(dir, { recursive: true });
  }
});

/** /proc/PID/comm (PR_SET_NAME) and argv[0] (/proc/PID/cmdline) of a process. */
async function processName(pid: number): Promise<{ comm: string; argv0: string }> {
  const comm = (await Deno.readTextFile(`/proc/${pid}/comm`)).trim();
  const argv0 = (await Deno.readTextFile(`/proc/${pid}/cmdline`)).split("\0")[0]!;
  return { comm, argv0 };
}

Deno.test({
  name: "the daemon started by bin/chronyd is chronyd for ps, pidof and /proc (not deno)",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const horae = await startHorae([]);
    try {
      assert.deepEqual(await processName(horae.pid), { comm: "chronyd", argv0: "chronyd" });
      const pidof = await runCommand("pidof", ["chronyd"]);
      assert.ok(pidof.stdout.trim().split(/\s+/).includes(String(horae.pid)), pidof.stdout);
      const ps = await runCommand("ps", ["-o", "comm=", "-p", String(horae.pid)]);
      assert.equal(ps.stdout.trim(), "chronyd");
    } finally {
      await horae.stop();
    }
  },
});

Deno.test({
  name: "bin/chronyc (interactive, waiting for input) is chronyc for ps and /proc",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const child = new Deno.Command(`${ROOT}/bin/chronyc`, {
      args: ["-n", "-h", "/nonexistent/chronyd.sock"],
      stdin: "piped",
      stdout: "null",
      stderr: "null",
    }).spawn();
    try {
      let name = { comm: "", argv0: "" };
      for (let i = 0; i < 100 && name.comm !== "chronyc"; i++) {
        await new Promise((res) => setTimeout(res, 50));
        name = await processName(child.pid);
      }
      assert.deepEqual(name, { comm: "chronyc", argv0: "chronyc" });
    } finally {
      await child.stdin.close();
      const timer = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch { /* gone */ }
      }, 5000);
      await child.status;
      clearTimeout(timer);
    }
  },
});
