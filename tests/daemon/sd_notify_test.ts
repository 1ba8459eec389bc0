/**
 * systemd readiness: with NOTIFY_SOCKET set, the daemon sends `READY=1` once
 * it serves commands and `STOPPING=1` when it exits, as chronyd 4.8 does
 * (checked beside shared/chrony-4.8/chronyd when it is there).
 */
import assert from "node:assert/strict";
import { encodeSockaddrUn } from "../../ffi/sd_notify.ts";
import { ROOT, runCommand, sharedPath } from "../interop/harness.ts";

const inCi = Deno.env.get("CI") === "true";

function exists(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

Deno.test("sockaddr_un: a path is NUL-terminated, @name is abstract (leading NUL, no terminator)", () => {
  const p = encodeSockaddrUn("/run/x");
  assert.deepEqual([...p.subarray(0, 2)], [1, 0]);
  assert.equal(new TextDecoder().decode(p.subarray(2, 8)), "/run/x");
  assert.equal(p.length, 2 + 6 + 1);
  assert.equal(p[8], 0);
  const a = encodeSockaddrUn("@sd");
  assert.deepEqual([...a], [1, 0, 0, "s".charCodeAt(0), "d".charCodeAt(0)]);
  assert.throws(() => encodeSockaddrUn("/" + "x".repeat(200)), RangeError);
  assert.throws(() => encodeSockaddrUn(""), RangeError);
});

async function notifications(cmd: string, flags: string[]): Promise<string[]> {
  const dir = await Deno.makeTempDir({ prefix: "horae-notify-" });
  await Deno.chmod(dir, 0o700);
  const notify = `${dir}/notify`;
  const listener = Deno.listenDatagram({ transport: "unixpacket", path: notify });
  const socket = `${dir}/chronyd.sock`;
  await Deno.writeTextFile(
    `${dir}/chrony.conf`,
    ["port 0", "cmdport 0", `bindcmdaddress ${socket}`, `pidfile ${dir}/chronyd.pid`, ""].join(
      "\n",
    ),
  );
  const child = new Deno.Command(cmd, {
    args: ["-d", "-x", ...flags, "-f", `${dir}/chrony.conf`],
    env: { NOTIFY_SOCKET: notify },
    stdout: "null",
    stderr: "null",
  }).spawn();
  const got: string[] = [];
  const next = async (ms: number) => {
    const m = await Promise.race([
      listener.receive(),
      new Promise<null>((r) => setTimeout(() => r(null), ms)),
    ]);
    if (m) got.push(new TextDecoder().decode(m[0]));
    return m !== null;
  };
  try {
    assert.ok(await next(15_000), `${cmd}: no READY=1 within 15 s`);
    // Ready means serving: the command socket answers at once.
    const r = await runCommand("/usr/bin/chronyc", ["-n", "-h", socket, "tracking"], {
      timeoutMs: 5000,
    });
    assert.equal(r.code, 0, r.stderr);
    child.kill("SIGTERM");
    await next(10_000);
  } finally {
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
    await child.status;
    listener.close();
    await Deno.remove(dir, { recursive: true });
  }
  return got;
}

Deno.test("NOTIFY_SOCKET: READY=1 once serving, STOPPING=1 at exit (as chronyd 4.8)", async () => {
  assert.deepEqual(await notifications(`${ROOT}/bin/chronyd`, []), ["READY=1", "STOPPING=1"]);
  const ref = sharedPath("chrony-4.8/chronyd");
  if (exists(ref)) {
    assert.deepEqual(await notifications(ref, ["-u", "root"]), ["READY=1", "STOPPING=1"]);
  } else if (inCi) {
    throw new Error(`chrony 4.8 reference missing: ${ref}`);
  }
});
