/**
 * Without CAP_SYS_TIME (a container's default) and without -x the daemon
 * stops at start with a message naming CAP_SYS_TIME and -x, as chronyd 4.3
 * stops ("CAP_SYS_TIME not present", then a fatal error). As root the
 * capability is removed from the bounding set with setpriv, which is checked
 * first: nothing here may ever adjust the clock.
 */
import assert from "node:assert/strict";
import { haveChrony, ROOT } from "../interop/harness.ts";

const isRoot = Deno.uid() === 0;
const inCi = Deno.env.get("CI") === "true";

async function run(cmd: string, args: string[]) {
  const argv = isRoot
    ? ["setpriv", "--bounding-set=-sys_time", "--", cmd, ...args]
    : [cmd, ...args];
  const o = await new Deno.Command(argv[0]!, {
    args: argv.slice(1),
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  const dec = new TextDecoder();
  return { code: o.code, out: dec.decode(o.stdout) + dec.decode(o.stderr) };
}

Deno.test("no CAP_SYS_TIME and no -x: a fatal error naming CAP_SYS_TIME and -x (chronyd stops too)", async () => {
  // The wrapper really takes CAP_SYS_TIME (bit 25) away, or nothing below runs.
  const probe = await run("/usr/bin/grep", ["^CapEff", "/proc/self/status"]);
  const eff = BigInt("0x" + probe.out.trim().split(/\s+/)[1]);
  assert.equal(eff & (1n << 25n), 0n, "CAP_SYS_TIME must be absent for this test");
  const dir = await Deno.makeTempDir({ prefix: "horae-nocap-" });
  try {
    await Deno.writeTextFile(
      `${dir}/chrony.conf`,
      ["port 0", "cmdport 0", `bindcmdaddress ${dir}/c.sock`, `pidfile ${dir}/c.pid`, ""].join(
        "\n",
      ),
    );
    const h = await run(`${ROOT}/bin/chronyd`, ["-d", "-f", `${dir}/chrony.conf`]);
    assert.equal(h.code, 1, h.out);
    assert.match(h.out, /CAP_SYS_TIME not present/);
    assert.match(h.out, /Fatal error : Cannot adjust the system clock: CAP_SYS_TIME .* -x /);
    if (haveChrony()) {
      const c = await run("/usr/sbin/chronyd", ["-d", "-u", "root", "-f", `${dir}/chrony.conf`]);
      assert.notEqual(c.code, 0, c.out);
      assert.match(c.out, /CAP_SYS_TIME not present/);
      assert.match(c.out, /Fatal error/);
    } else if (inCi) {
      throw new Error("the real chronyd is required under CI");
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
